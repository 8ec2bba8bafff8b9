"""What a run writes about its workloads: one journal ``second`` per completed second of a
measured workload, and each workload's entry in the run record (kind, totals over the
measured seconds, the generator's figures with its warm-up, the history's counts)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from faultlab.workload.base import Workload
from faultlab.workload.stats import SecondStats, StatsRecorder, aggregate

__all__ = ["second_fields", "workload_entries"]


def second_fields(s: SecondStats) -> dict[str, Any]:
    """The fields of a journal ``second`` event (times in seconds, histograms encoded)."""
    h = s.histogram
    n = h.get_total_count()

    def pct(q: float) -> float | None:
        return round(h.get_value_at_percentile(q) / 1e6, 6) if n else None

    # the ok requests' own histogram, when it differs from the one of every request
    ok_hdr = (s.ok_histogram.encode().decode()
              if s.ok_histogram is not None and s.ok else None)
    out = {"second": s.index, "sent": s.sent, "ok": s.ok, "failed": s.failed,
           "timed_out": s.timed_out, "dropped": s.dropped, "late": s.late,
           "max_lag": round(s.max_lag, 6), "p50": pct(50), "p90": pct(90), "p99": pct(99),
           "max": round(h.get_max_value() / 1e6, 6) if n else None,
           "hdr": h.encode().decode() if n else None, "ok_hdr": ok_hdr}
    if s.errors:  # a probe's own errors: only when there were some
        out.update(probe_errors=s.errors, probe_error=s.error)
    return out


def _clean(v: float) -> float | None:
    return None if math.isnan(v) else round(v, 6)


def workload_entries(workloads: Mapping[str, Workload],
                     recorders: Mapping[str, StatsRecorder], warmup: float,
                     origin: float) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for name, w in workloads.items():
        summary = w.summary()
        ls, wu = summary.load, summary.load.warmup
        entry: dict[str, Any] = {
            "kind": summary.kind, "measured": w.measured, "totals": None,
            "generator": {"planned": ls.planned, "sent": ls.sent, "dropped": ls.dropped,
                          "late": ls.late, "max_lag": ls.max_lag,
                          "saturated": ls.saturated, "reason": ls.reason,
                          "warmup": {"seconds": warmup, "planned": wu.planned,
                                     "sent": wu.sent, "dropped": wu.dropped,
                                     "max_lag": wu.max_lag}},
            "history": None}
        recorder = recorders.get(name)
        if recorder is not None:
            agg = aggregate(recorder.window(0, recorder.completed))
            entry["totals"] = {
                "seconds": agg.seconds, "planned": agg.planned, "sent": agg.sent,
                "ok": agg.ok, "failed": agg.failed, "timed_out": agg.timed_out,
                "dropped": agg.dropped, "probe_errors": agg.errors,
                "success_ratio": _clean(agg.success_ratio),
                "p50": _clean(agg.percentile(50)), "p90": _clean(agg.percentile(90)),
                "p99": _clean(agg.percentile(99)), "max": _clean(agg.max_latency),
                "ok_p50": _clean(agg.percentile(50, successful_only=True)),
                "ok_p99": _clean(agg.percentile(99, successful_only=True))}
        h = summary.history
        if h is not None:
            entry["history"] = {
                "file": h.file, "origin_ns": round(origin * 1e9),
                "planned": h.planned, "invoked": h.invoked, "dropped": h.dropped,
                "retired_processes": h.retired_processes, "ok": h.ok, "fail": h.fail,
                "info": h.info}
        out[name] = entry
    return out
