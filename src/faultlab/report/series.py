"""Chart data: per-second series, windowed success ratios and SLO thresholds.

A chart is a plain JSON-able dict read by ``assets/charts.js``::

    {"id", "title", "unit": "s" | "ratio" | "rps", "x": [second midpoints],
     "series": [{"name", "color", "dash", "values": [number | null]}],
     "thresholds": [{"value", "label"}], "bands": [{"start", "end", "label"}],
     "phases": [{"t", "label"}], "ymax": number | null}

Second ``s`` covers [s, s + 1) and is drawn at its midpoint, on the same axis as the fault
windows (seconds since the experiment's second 0).

The success ratio over an SLO window at second ``s`` is ok / planned over the trailing
window [s - w + 1, s] (``planned`` counts dropped requests: a user felt them); the
evaluator clips windows to phase boundaries, so its figures can differ at a boundary.
"""

from __future__ import annotations

import math
from typing import Any

from faultlab.report.model import RunData, Second
from faultlab.units import format_duration

__all__ = ["bands", "latency_values", "phases", "seconds_axis", "success_ratio",
           "thresholds"]

Chart = dict[str, Any]

PERCENTILE_Q = {"p50": 50.0, "p90": 90.0, "p95": 95.0, "p99": 99.0, "p999": 99.9}


def seconds_axis(runs: list[RunData]) -> list[float]:
    last = max((s.index for r in runs for s in r.seconds), default=-1)
    return [i + 0.5 for i in range(last + 1)]


def _by_index(run: RunData, length: int) -> list[Second | None]:
    out: list[Second | None] = [None] * length
    for s in run.seconds:
        if 0 <= s.index < length:
            out[s.index] = s
    return out


def counts(run: RunData, length: int, field: str) -> list[float | None]:
    """Requests of one outcome per second; a partial last second is left out (its counts
    would read as a collapse of traffic)."""
    return [float(getattr(s, field)) if s is not None and not s.partial else None
            for s in _by_index(run, length)]


def latency_values(run: RunData, length: int, key: str) -> list[float | None]:
    """Per-second latency for a percentile key; p95/p999 are read from the histogram."""
    rows = _by_index(run, length)
    if key in ("p50", "p90", "p99", "max"):
        return [getattr(s, key) if s is not None else None for s in rows]
    q = PERCENTILE_Q.get(key)
    out: list[float | None] = []
    for s in rows:
        value = None
        if s is not None and s.hdr and q is not None:
            from hdrh.histogram import HdrHistogram

            h = HdrHistogram.decode(s.hdr)
            if h.get_total_count():
                value = round(h.get_value_at_percentile(q) / 1e6, 6)
        out.append(value)
    return out


def success_ratio(run: RunData, length: int, window: float) -> list[float | None]:
    w = max(1, math.ceil(window))
    rows = _by_index(run, length)
    out: list[float | None] = []
    ok = planned = 0
    for i, s in enumerate(rows):
        if s is not None:
            ok, planned = ok + s.ok, planned + s.planned
        old = rows[i - w] if i >= w else None
        if old is not None:
            ok, planned = ok - old.ok, planned - old.planned
        out.append(round(ok / planned, 6) if planned else None)
    return out


def bands(runs: list[RunData]) -> list[dict[str, Any]]:
    """Fault windows (inject to revert, or to the end if never reverted), merged across
    runs when they name the same fault at about the same time."""
    out: list[dict[str, Any]] = []
    for run in runs:
        for f in run.faults:
            if f.injected_at is None:
                continue
            end = f.reverted_at if f.reverted_at is not None else run.end
            label = f"{f.name} ({f.kind})" if f.kind else f.name
            if f.reverted_at is None:
                label += " - NOT REVERTED"
            if not any(b["label"] == label and abs(b["start"] - f.injected_at) < 1
                       and abs(b["end"] - end) < 1 for b in out):
                out.append({"start": round(f.injected_at, 3), "end": round(end, 3),
                            "label": label})
    return out


def phases(run: RunData) -> list[dict[str, Any]]:
    return [{"t": round(t, 3), "label": name} for name, t in run.phases]


def thresholds(run: RunData, unit: str) -> list[dict[str, Any]]:
    out = []
    for slo in run.slos:
        if unit == "s":
            out += [{"value": bound, "label": f"{slo.name}: {key} \u2264 "
                     f"{format_duration(bound)}", "key": key}
                    for key, bound in slo.latency.items()]
        elif unit == "ratio" and slo.success_ratio is not None:
            out.append({"value": slo.success_ratio,
                        "label": f"{slo.name}: \u2265 {slo.success_ratio * 100:g}% over "
                        f"{format_duration(slo.window)}"})
    return out


def latency_keys(runs: list[RunData]) -> list[str]:
    """p50, p90, p99, max, plus any other percentile an SLO bounds."""
    keys = ["p50", "p90", "p99", "max"]
    for run in runs:
        for slo in run.slos:
            keys += [k for k in slo.latency if k not in keys]
    order = ["p50", "p90", "p95", "p99", "p999", "max"]
    return sorted(keys, key=lambda k: order.index(k) if k in order else len(order))
