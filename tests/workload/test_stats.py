"""Per-second statistics: the warm-up bucket and the successful-only latencies."""

from __future__ import annotations

import math

import pytest
from hdrh.histogram import HdrHistogram
from hypothesis import given, settings
from hypothesis import strategies as st

from faultlab.workload.stats import (
    HIGHEST_LATENCY_US,
    Outcome,
    SecondStats,
    StatsRecorder,
    aggregate,
    new_histogram,
)


def test_requests_intended_before_the_origin_never_reach_a_second() -> None:
    rec = StatsRecorder(origin=100.0)
    rec.on_sent(99.2, 99.9)  # warm-up: intended before second 0, finished after it
    rec.on_done(99.2, Outcome.OK, 2.0)
    rec.on_dropped(99.5)
    rec.on_sent(100.1, 100.1)
    rec.on_done(100.1, Outcome.OK, 0.01)
    closed = rec.complete_until(101.5)
    assert [s.index for s in closed] == [0]
    assert (closed[0].sent, closed[0].ok, closed[0].dropped) == (1, 1, 0)
    assert closed[0].histogram.get_max_value() < 20_000  # the 2 s warm-up request is apart
    assert (rec.warmup.sent, rec.warmup.ok, rec.warmup.dropped) == (1, 1, 1)
    assert rec.window(-10, 10) == closed


def test_a_latency_slo_on_successful_requests_ignores_fast_failures() -> None:
    rec = StatsRecorder(origin=0.0)
    for i in range(90):  # fast failures (a 503 in 1 ms)...
        rec.on_sent(i / 100, i / 100)
        rec.on_done(i / 100, Outcome.FAILED, 0.001)
    for i in range(90, 100):  # ...and slow successes
        rec.on_sent(i / 100, i / 100)
        rec.on_done(i / 100, Outcome.OK, 0.8)
    agg = aggregate(rec.complete_until(2.0))
    assert agg.percentile(50) == pytest.approx(0.001, rel=0.01)  # looks fast
    assert agg.percentile(50, successful_only=True) == pytest.approx(0.8, rel=0.01)
    assert agg.ok_histogram.get_total_count() == 10


def test_the_ok_histogram_is_the_histogram_until_a_request_fails() -> None:
    rec = StatsRecorder(origin=0.0)
    for t, outcome, latency in [(0.1, Outcome.OK, 0.010), (0.2, Outcome.OK, 0.020),
                                (0.3, Outcome.TIMED_OUT, 2.0), (0.4, Outcome.OK, 0.030),
                                (1.1, Outcome.OK, 0.040)]:
        rec.on_sent(t, t)
        rec.on_done(t, outcome, latency)
    first, second = rec.complete_until(2.0)
    assert first.ok_histogram is not None  # made at the first failure, with the ok ones so far
    assert first.ok_histogram.get_total_count() == 3
    assert first.ok_histogram.get_max_value() < 31_000
    assert first.histogram.get_total_count() == 4
    assert second.ok_histogram is None and second.ok_latencies() is second.histogram
    agg = aggregate([first, second])
    assert agg.ok_histogram.get_total_count() == 4
    assert agg.percentile(100, successful_only=True) == pytest.approx(0.040, rel=0.01)
    assert agg.percentile(100) == pytest.approx(2.0, rel=0.01)


def test_no_successful_request_is_no_data_not_zero() -> None:
    rec = StatsRecorder(origin=0.0)
    rec.on_sent(0.5, 0.5)
    rec.on_done(0.5, Outcome.FAILED, 0.001)
    agg = aggregate(rec.complete_until(2.0))
    assert math.isnan(agg.percentile(99, successful_only=True))
    assert not math.isnan(agg.percentile(99))


_finish = st.tuples(st.sampled_from([Outcome.OK, Outcome.FAILED, Outcome.TIMED_OUT]),
                    st.integers(1, HIGHEST_LATENCY_US), st.booleans())


@settings(max_examples=100, deadline=None)
@given(finishes=st.lists(_finish, max_size=60))
def test_latencies_added_to_the_histogram_when_read_equal_recording_each(
        finishes: list[tuple[Outcome, int, bool]]) -> None:
    """A second keeps its latencies as counts until its histogram is read; read at any
    moment (``peek``), it equals histograms into which every latency went at once."""
    s = SecondStats(0)
    every, ok = new_histogram(), new_histogram()
    for outcome, us, peek in finishes:
        s.record(outcome, us)
        every.record_value(us)
        if outcome is Outcome.OK:
            ok.record_value(us)
        if peek:
            assert _counts(s.histogram) == _counts(every)
    for got, expected in ((s.histogram, every), (s.ok_latencies(), ok)):
        assert _counts(got) == _counts(expected)
    assert s.ok + s.failed + s.timed_out == len(finishes)


def _counts(h: HdrHistogram) -> tuple[object, ...]:
    return (h.get_total_count(), h.get_min_value(), h.get_max_value(), bytes(h.counts))
