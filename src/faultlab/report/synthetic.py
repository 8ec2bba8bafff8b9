"""A synthetic run directory, written with the real :class:`~faultlab.journal.Journal`.

For the report's tests and benchmark, and to preview a new report section without running
an experiment. The story is fixed: steady load, then each fault window in which a
``broken`` system fails (errors, timeouts, 800 ms latency) and a resilient one only slows a
little, then recovery. ``result.json`` states what the story implies.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from faultlab.journal import JOURNAL_NAME, Event, Journal, Redactor
from faultlab.workload.stats import new_histogram

__all__ = ["SyntheticFault", "write_synthetic_run"]


@dataclass(frozen=True)
class SyntheticFault:
    name: str
    kind: str
    start: float  # seconds since second 0
    end: float
    revert_ok: bool = True


class _Clock:
    def __init__(self) -> None:
        self.t = 0.0

    def now(self) -> float:
        return self.t

    def wall(self) -> float:
        return 1_780_000_000.0 + self.t

    async def sleep_until(self, deadline: float) -> None:  # pragma: no cover - unused
        self.t = max(self.t, deadline)


SLOS = [{"name": "fast-pages", "latency": {"p99": 0.3}, "success_ratio": None, "window": 2.0},
        {"name": "pages-served", "latency": None, "success_ratio": 0.99, "window": 2.0}]


def _second(index: int, rate: int, hit: bool, broken: bool) -> dict[str, Any]:
    h = new_histogram()
    if hit and broken:
        ok, failed, timed_out = rate // 5, rate // 2, rate - rate // 5 - rate // 2
        values = [(800_000, ok), (1_000_000, timed_out)]
    else:
        ok, failed, timed_out = rate, 0, 0
        base = 40_000 if hit else 4_000
        values = [(base + (index % 7) * 300, rate // 2), (base * 2, rate - rate // 2 - 1),
                  (base * 5, 1)]
    for value, count in values:
        if count > 0:
            h.record_value(value, count)
    n = h.get_total_count()

    def pct(q: float) -> float | None:
        return round(h.get_value_at_percentile(q) / 1e6, 6) if n else None

    return {"second": index, "sent": rate, "ok": ok, "failed": failed, "timed_out": timed_out,
            "dropped": 0, "late": 0, "max_lag": 0.002, "p50": pct(50), "p90": pct(90),
            "p99": pct(99), "max": round(h.get_max_value() / 1e6, 6) if n else None,
            "hdr": h.encode().decode() if n else None}


def write_synthetic_run(run_dir: Path, *, name: str = "synthetic", seconds: int = 30,
                        rate: int = 50, faults: tuple[SyntheticFault, ...] = (
                            SyntheticFault("slow-data", "latency", 10.0, 18.0),),
                        broken: bool = True, variant: str | None = None,
                        generator_lag: bool = False) -> Path:
    run_dir.mkdir(parents=True, exist_ok=True)
    clock = _Clock()
    journal = Journal(run_dir / JOURNAL_NAME, clock, 0.0, Redactor())
    argv = ["faultlab", "run", f"{name}.yaml"] + (["--var", f"variant={variant}"]
                                                  if variant else [])
    journal.write(Event.RUN_STARTED, experiment=name, file=f"{name}.yaml", sha256="ab" * 32,
                  seed=42, version="0.1.0", argv=argv, pid=1,
                  spec={"name": name, "description": "A synthetic run.", "slos": SLOS})
    journal.write(Event.PHASE, phase="before")
    first = min((f.start for f in faults), default=float(seconds))
    last = max((f.end for f in faults), default=first)
    pending = sorted([(f.start, "in", f) for f in faults] + [(f.end, "out", f) for f in faults],
                     key=lambda e: e[0])
    rows = []
    for i in range(seconds):
        for at, what, f in [p for p in pending if p[0] <= i + 1]:
            clock.t = at
            if at == first and what == "in":
                journal.write(Event.PHASE, phase="faults")
            if what == "in":
                journal.write(Event.FAULT_INTENT, fault=f.name, kind=f.kind, target="link",
                              params={}, lease=f.end - f.start + 10, undo={})
                journal.write(Event.FAULT_INJECTED, fault=f.name)
            elif f.revert_ok:
                journal.write(Event.FAULT_REVERTED, fault=f.name)
            else:
                journal.write(Event.REVERT_FAILED, fault=f.name, error="revert failed: boom")
            if at == last and what == "out":
                journal.write(Event.PHASE, phase="after")
            pending.remove((at, what, f))
        clock.t = i + 1.01
        hit = any(f.start <= i + 0.5 < f.end for f in faults)
        row = _second(i, rate, hit, broken)
        rows.append(row)
        journal.write(Event.SECOND, **row)
    reasons = []
    if generator_lag:
        journal.write(Event.GENERATOR_LAG, reason="3 of 10 sends went out late")
        reasons.append("warning: the load generator fell behind its schedule")
    doc = _result(name, run_dir, argv, rows, faults, broken, reasons)
    journal.write(Event.VERDICT, status=doc["status"], exit_code=doc["exit_code"],
                  reasons=doc["reasons"])
    journal.close()
    (run_dir / "result.json").write_text(json.dumps(doc, indent=2) + "\n", encoding="utf-8")
    return run_dir


def _result(name: str, run_dir: Path, argv: list[str], rows: list[dict[str, Any]],
            faults: tuple[SyntheticFault, ...], broken: bool, reasons: list[str]
            ) -> dict[str, Any]:
    first = min((f.start for f in faults), default=len(rows))
    last = max((f.end for f in faults), default=first)
    spans = {"before": (0, int(first)), "during": (int(first), int(last)),
             "after": (int(last), len(rows))}
    clauses = []
    for phase, (a, b) in spans.items():
        part = rows[a:b] or rows[-1:]
        p99 = max(r["p99"] or 0.0 for r in part)
        ratio = min(r["ok"] / r["sent"] for r in part)
        for slo, measured, bound, unit, held in (
                ("fast-pages", p99, 0.3, "s", p99 <= 0.3),
                ("pages-served", ratio, 0.99, "ratio", ratio >= 0.99)):
            clauses.append({
                "phase": phase, "slo": slo, "held": held, "measured": measured,
                "objective": "p99 <= 300ms" if unit == "s" else "success ratio >= 99%",
                "bound": bound, "unit": unit, "windows": len(part),
                "failed_windows": 0 if held else len(part), "worst_window": [a, a + 2],
                "detail": "synthetic", "recovery_time": 0.5 if phase == "after" else None,
                "recover_within": 3.0 if phase == "after" else None,
                "name": f"{phase}: {slo}"})
    failed = [str(c["name"]) for c in clauses if not c["held"]]
    reverted_ok = all(f.revert_ok for f in faults)
    status = ("revert_failed" if not reverted_ok else "violated" if failed else "held")
    reasons = ([f"hypothesis violated: {', '.join(failed)}"] if failed else
               ["hypothesis held"]) + reasons
    exit_code = {"held": 0, "violated": 1, "revert_failed": 4}[status]
    total = {k: sum(r[k] for r in rows) for k in ("sent", "ok", "failed", "timed_out")}
    return {"faultlab_version": "0.1.0", "experiment": {"name": name, "file": f"{name}.yaml",
                                                        "sha256": "ab" * 32},
            "run_dir": str(run_dir), "seed": 42, "command": argv, "status": status,
            "exit_code": exit_code, "reasons": reasons, "clauses": clauses,
            "faults": [{"name": f.name, "kind": f.kind, "target": "link", "params": {},
                        "planned_start": f.start - first, "planned_duration": f.end - f.start,
                        "injected_at": f.start, "reverted_at": f.end if f.revert_ok else None,
                        "lease": f.end - f.start + 10, "revert_ok": f.revert_ok,
                        "error": None if f.revert_ok else "revert failed: boom",
                        "recovery_time": 0.5 if f.revert_ok else None, "recovery_note": ""}
                       for f in faults],
            "workload": {"seconds": len(rows), "planned": total["sent"], **total,
                         "dropped": 0, "success_ratio": total["ok"] / max(1, total["sent"]),
                         "p50": 0.004, "p90": 0.008, "p99": 0.8 if broken else 0.05,
                         "max": 1.0},
            "generator": {"planned": total["sent"], "sent": total["sent"], "dropped": 0,
                          "late": 0, "max_lag": 0.002, "saturated": False, "reason": ""}}
