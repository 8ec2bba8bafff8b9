"""Chart data: windowed success ratio, counts, percentiles from histograms, fault bands."""

from __future__ import annotations

from pathlib import Path

import msgspec

from faultlab.report import load_run
from faultlab.report import series as S
from faultlab.report.model import RunData, Second


def _run(base: RunData, rows: list[tuple[int, int]]) -> RunData:
    seconds = [Second(i, sent, ok, sent - ok, 0, 0, 0, 0.0, None, None, None, None)
               for i, (sent, ok) in enumerate(rows)]
    return msgspec.structs.replace(base, seconds=seconds)


def test_success_ratio_is_over_the_trailing_window(naive_run: Path) -> None:
    run = _run(load_run(naive_run), [(10, 10), (10, 0), (10, 5), (0, 0), (10, 10)])
    assert S.success_ratio(run, 5, 1) == [1.0, 0.0, 0.5, None, 1.0]
    assert S.success_ratio(run, 5, 2) == [1.0, 0.5, 0.25, 0.5, 1.0]
    assert S.success_ratio(run, 5, 2.5) == [1.0, 0.5, 0.5, 0.25, 0.75]  # rounds up to 3


def test_dropped_requests_count_against_the_ratio(naive_run: Path) -> None:
    run = load_run(naive_run)
    s = Second(0, 8, 8, 0, 0, 2, 0, 0.0, None, None, None, None)
    assert S.success_ratio(msgspec.structs.replace(run, seconds=[s]), 1, 1) == [0.8]


def test_counts_leave_out_a_partial_last_second(naive_run: Path) -> None:
    run = load_run(naive_run)
    n = len(run.seconds)
    cut = msgspec.structs.replace(run.seconds[-1], partial=True, sent=3)
    run = msgspec.structs.replace(run, seconds=[*run.seconds[:-1], cut])
    sent = S.counts(run, n, "sent")
    assert sent[-1] is None and sent[-2] == 20.0  # the story's rate


def test_p95_comes_from_the_histogram(naive_run: Path) -> None:
    run = load_run(naive_run)
    n = len(run.seconds)
    p95 = S.latency_values(run, n, "p95")
    p99 = S.latency_values(run, n, "p99")
    assert all(a is not None and b is not None and a <= b
               for a, b in zip(p95, p99, strict=True))
    assert p95[12] is not None and p95[12] > 0.5  # inside the fault window: 800 ms or more


def test_bands_merge_the_same_fault_across_runs(naive_run: Path, resilient_run: Path
                                                ) -> None:
    runs = [load_run(naive_run), load_run(resilient_run)]
    assert S.bands(runs) == [{"start": 10.1, "end": 18.1, "label": "slow-data (story-outage)"}]


def test_thresholds_name_the_slo_and_its_bound(naive_run: Path) -> None:
    run = load_run(naive_run)
    assert [t["label"] for t in S.thresholds(run, "s")] == ["fast-pages: p99 \u2264 300ms"]
    assert [t["value"] for t in S.thresholds(run, "ratio")] == [0.99]
