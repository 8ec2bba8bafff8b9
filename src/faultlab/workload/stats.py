"""Per-second workload statistics recorded into HDR histograms.

Every request is attributed to the second of its *intended* send time (relative to the run's
origin), not of its completion: a request planned at 9.9 s during a fault that completes at
11 s belongs to second 9. This is the open-loop view (wrk2): latency is measured from the
intended time, so a stalled system cannot hide its stall by slowing the generator down.

A second is *complete* once every request intended in it has finished (ok, failed, timed out)
or been dropped, and its planned window has passed. Only complete seconds are evaluated, so
verdicts never change after they are made.

Requests intended before the origin are the *warm-up* (connections opening, code paths
running for the first time): they are counted in :attr:`StatsRecorder.warmup` and never in a
second, so no clause, abort condition or total ever sees them.

Invariants:
- ``sent + dropped`` counts every planned request of a second; ``ok + failed + timed_out +
  errors`` counts every finished one; a complete second has ``ok + failed + timed_out +
  errors == sent``.
- ``errors`` are a probe's own failures (the Prometheus it asks is down, its query is
  invalid): the question could not be asked, so they say nothing about the system. They are
  not *planned* (no success ratio, no latency counts them) and a window of nothing else has
  no data; :attr:`SecondStats.error` keeps the first one's message.
- The histogram holds the latency (microseconds, from the intended time) of every finished
  request, timeouts recorded at their timeout, so the tail is bounded, never lost.
- The successful-only histogram (:meth:`SecondStats.ok_latencies`) holds the latency of every
  ``ok`` request. It is kept separately only once a second has seen a request that was not
  ok; until then it *is* the histogram (so a healthy second costs one histogram, not two).
- Only the last ``keep_seconds`` complete seconds are held in memory; older ones have been
  handed to ``on_complete`` (the journal) and dropped.

*Merging* (the worker processes of an HTTP load, :mod:`faultlab.workload.worker`): a recorder
may be fed complete seconds from ``n`` *sources* instead of events
(:meth:`StatsRecorder.expect_sources`, :meth:`~StatsRecorder.add_second`). Each source sends
its seconds in order, every index from 0 (empty ones too), and then ends
(:meth:`~StatsRecorder.end_source`). A second then completes only once every source has sent
it (or ended), and is the exact sum of theirs (:func:`merge_second`: counts added, ``max_lag``
the largest, histograms added, which is exact for HDR histograms of one configuration), so
``n`` recorders each fed a part of the events and merged equal one recorder fed them all.
:func:`second_to_wire` / :func:`second_from_wire` carry a second as JSON (the histograms in
HdrHistogram's compressed base64 encoding, the ok-only one only when it is separate).
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from enum import Enum

import msgspec
from hdrh.histogram import HdrHistogram

__all__ = ["Aggregate", "Outcome", "SecondStats", "StatsRecorder", "aggregate", "merge_second",
           "new_histogram", "second_from_wire", "second_to_wire"]

HIGHEST_LATENCY_US = 3_600_000_000  # one hour: anything slower is clamped and still counted
SIGNIFICANT_DIGITS = 3
LATE_THRESHOLD_S = 0.010  # a send more than 10 ms after its intended time counts as late


def new_histogram() -> HdrHistogram:
    return HdrHistogram(1, HIGHEST_LATENCY_US, SIGNIFICANT_DIGITS)


class Outcome(Enum):
    OK = "ok"
    FAILED = "failed"
    TIMED_OUT = "timed_out"
    PROBE_ERROR = "probe_error"  # the probe could not ask (not an answer about the system)


@dataclass
class SecondStats:
    """What happened to the requests intended in one second of the run."""

    index: int
    sent: int = 0
    ok: int = 0
    failed: int = 0
    timed_out: int = 0
    dropped: int = 0
    late: int = 0
    max_lag: float = 0.0
    errors: int = 0  # probe errors (Outcome.PROBE_ERROR)
    error: str | None = None  # the first probe error's message
    _histogram: HdrHistogram = field(default_factory=new_histogram, repr=False)
    # latencies of the ok requests; None while every finished request was ok (then it is
    # `histogram`), so that only seconds with failures pay for a second histogram
    ok_histogram: HdrHistogram | None = field(default=None, repr=False)
    # latencies recorded and not yet in `_histogram`, as {microseconds: count}, added when
    # `histogram` is read: a dict update costs a twentieth of an HDR record (pure Python),
    # and a second's requests have far fewer distinct latencies than requests
    _pending: dict[int, int] = field(default_factory=dict, repr=False, compare=False)

    @property
    def histogram(self) -> HdrHistogram:
        """The latencies (microseconds) of every finished request of this second."""
        pending = self._pending
        if pending:
            record = self._histogram.record_value
            for us, n in pending.items():
                record(us, n)
            pending.clear()
        return self._histogram

    @histogram.setter
    def histogram(self, h: HdrHistogram) -> None:
        self._pending.clear()
        self._histogram = h

    def ok_latencies(self) -> HdrHistogram:
        """The latencies of the successful requests of this second."""
        return self.histogram if self.ok_histogram is None else self.ok_histogram

    def record(self, outcome: Outcome, us: int) -> None:
        """Count one finished request with latency ``us`` (microseconds)."""
        if outcome is Outcome.PROBE_ERROR:
            self.errors += 1
            return
        if outcome is Outcome.OK:
            self.ok += 1
            if self.ok_histogram is not None:
                self.ok_histogram.record_value(us)
        else:
            if self.ok_histogram is None:
                self.ok_histogram = new_histogram()
                every = self.histogram  # (the pending latencies added first)
                if every.get_total_count():
                    self.ok_histogram.add(every)
            if outcome is Outcome.FAILED:
                self.failed += 1
            else:
                self.timed_out += 1
        pending = self._pending
        pending[us] = pending.get(us, 0) + 1

    @property
    def finished(self) -> int:
        return self.ok + self.failed + self.timed_out + self.errors

    @property
    def in_flight(self) -> int:
        return self.sent - self.finished


class Aggregate(msgspec.Struct, frozen=True):
    """Merged statistics over a set of seconds; what SLOs are evaluated on."""

    seconds: int
    sent: int
    ok: int
    failed: int
    timed_out: int
    dropped: int
    late: int
    max_lag: float
    histogram: HdrHistogram
    ok_histogram: HdrHistogram  # the ok requests' latencies only
    errors: int = 0  # probe errors: not planned, not in any figure
    error: str | None = None  # the first one's message

    @property
    def planned(self) -> int:
        """Requests that asked the system something: sent or dropped, not probe errors."""
        return self.sent + self.dropped - self.errors

    @property
    def success_ratio(self) -> float:
        """ok / planned; a dropped request is a failure the user would have felt. NaN if empty."""
        return self.ok / self.planned if self.planned else math.nan

    def percentile(self, q: float, *, successful_only: bool = False) -> float:
        """Latency in seconds at percentile ``q`` (0-100) of every finished request, or of the
        ok ones only; NaN when there is none."""
        hist = self.ok_histogram if successful_only else self.histogram
        if hist.get_total_count() == 0:
            return math.nan
        return float(hist.get_value_at_percentile(q)) / 1e6

    @property
    def max_latency(self) -> float:
        if self.histogram.get_total_count() == 0:
            return math.nan
        return float(self.histogram.get_max_value()) / 1e6


def aggregate(seconds: Iterable[SecondStats]) -> Aggregate:
    hist, ok_hist = new_histogram(), new_histogram()
    n = sent = ok = failed = timed_out = dropped = late = errors = 0
    max_lag = 0.0
    error: str | None = None
    for s in seconds:
        n += 1
        sent += s.sent
        ok += s.ok
        failed += s.failed
        timed_out += s.timed_out
        dropped += s.dropped
        late += s.late
        errors += s.errors
        error = error or s.error
        max_lag = max(max_lag, s.max_lag)
        if s.histogram.get_total_count():
            hist.add(s.histogram)
        if s.ok and s.ok_histogram is not None:
            ok_hist.add(s.ok_histogram)
        elif s.ok:
            ok_hist.add(s.histogram)
    return Aggregate(n, sent, ok, failed, timed_out, dropped, late, max_lag, hist, ok_hist,
                     errors, error)


def merge_second(into: SecondStats, other: SecondStats) -> None:
    """Add ``other`` (the same second, from another source) to ``into``, exactly."""
    if other.ok_histogram is not None or into.ok_histogram is not None:
        if into.ok_histogram is None:
            into.ok_histogram = new_histogram()
            if into.histogram.get_total_count():
                into.ok_histogram.add(into.histogram)
        ok = other.ok_latencies()
        if ok.get_total_count():
            into.ok_histogram.add(ok)
    if other.histogram.get_total_count():
        into.histogram.add(other.histogram)
    into.sent += other.sent
    into.ok += other.ok
    into.failed += other.failed
    into.timed_out += other.timed_out
    into.dropped += other.dropped
    into.late += other.late
    into.max_lag = max(into.max_lag, other.max_lag)
    into.errors += other.errors
    into.error = into.error or other.error


_WIRE_COUNTS = ("index", "sent", "ok", "failed", "timed_out", "dropped", "late", "errors")


def second_to_wire(s: SecondStats) -> dict[str, object]:
    """``s`` as JSON-ready values (see :func:`second_from_wire`)."""
    wire: dict[str, object] = {k: getattr(s, k) for k in _WIRE_COUNTS}
    wire["max_lag"] = s.max_lag
    if s.error is not None:
        wire["error"] = s.error
    if s.histogram.get_total_count():
        wire["histogram"] = s.histogram.encode().decode("ascii")
    if s.ok_histogram is not None:
        wire["ok_histogram"] = s.ok_histogram.encode().decode("ascii")
    return wire


def second_from_wire(wire: dict[str, object]) -> SecondStats:
    """The :class:`SecondStats` that :func:`second_to_wire` made ``wire`` from; raises
    ValueError (or KeyError, TypeError) for anything else."""
    counts = {k: wire[k] for k in _WIRE_COUNTS}
    if not all(type(v) is int and v >= (-1 if k == "index" else 0) for k, v in counts.items()):
        raise ValueError(f"a second's counts must be non-negative integers, got {counts!r}")
    lag, error = wire["max_lag"], wire.get("error")
    if not isinstance(lag, int | float) or (error is not None and not isinstance(error, str)):
        raise ValueError("a second's max_lag must be a number and its error a string")
    s = SecondStats(**counts, max_lag=float(lag), error=error)  # type: ignore[arg-type]
    for name in ("histogram", "ok_histogram"):
        encoded = wire.get(name)
        if encoded is None:
            continue
        if not isinstance(encoded, str):
            raise ValueError(f"a second's {name} must be an encoded HDR histogram")
        hist = new_histogram()
        decoded = HdrHistogram.decode(encoded.encode("ascii"))
        if decoded.get_total_count():
            hist.add(decoded)
        setattr(s, name, hist)
    return s


_ENDED = 1 << 62  # the next second of a source that has ended: after every second


class StatsRecorder:
    """Collects request events into :class:`SecondStats`, keyed by intended-send second.

    ``origin`` is the clock reading that is second 0 of the run. Completed seconds are passed
    to ``on_complete`` exactly once, in order, by :meth:`complete_until`. Requests intended
    before ``origin`` are counted in :attr:`warmup` (index -1) and nowhere else.
    """

    def __init__(
        self,
        origin: float,
        keep_seconds: int = 900,
        on_complete: Callable[[SecondStats], None] | None = None,
    ) -> None:
        self.origin = origin
        self._open: dict[int, SecondStats] = {}
        self._done: deque[SecondStats] = deque(maxlen=keep_seconds)
        self._next_complete = 0
        self._on_complete = on_complete
        self.warmup = SecondStats(-1)
        # with sources (expect_sources): the next second each one has not sent yet
        self._source_next: list[int] | None = None

    def expect_sources(self, n: int) -> None:
        """From now on this recorder is fed whole seconds by ``n`` sources (see the module
        docstring, *Merging*): a second completes once each has sent it or ended."""
        if n < 1 or self._source_next is not None or self._open or self._next_complete:
            raise RuntimeError("expect_sources is called once, on a fresh recorder, with n >= 1")
        self._source_next = [0] * n

    def add_second(self, source: int, stats: SecondStats) -> None:
        """Merge source ``source``'s complete second ``stats`` (index -1: its warm-up, sent
        once at its end). Each source sends every second in order from 0."""
        nexts = self._source_next
        if nexts is None:
            raise RuntimeError("add_second on a recorder without sources (expect_sources)")
        if stats.index < 0:
            merge_second(self.warmup, stats)
            return
        if stats.index != nexts[source] or stats.index < self._next_complete:
            raise RuntimeError(f"source {source} sent second {stats.index}, expected "
                               f"{nexts[source]} (seconds complete {self._next_complete})")
        b = self._open.get(stats.index)
        if b is None:
            b = self._open[stats.index] = SecondStats(stats.index)
        merge_second(b, stats)
        nexts[source] += 1

    def end_source(self, source: int) -> None:
        """Source ``source`` has sent its last second: it holds no later one back."""
        if self._source_next is not None:
            self._source_next[source] = _ENDED

    @property
    def sources_behind(self) -> int:
        """With sources: the first second some source has not sent (or ``_ENDED``)."""
        return min(self._source_next) if self._source_next is not None else _ENDED

    def second_of(self, t: float) -> int:
        """The second of clock time ``t``; negative before the origin (the warm-up)."""
        return math.floor(t - self.origin)

    def _bucket(self, intended: float) -> SecondStats:
        idx = math.floor(intended - self.origin)  # second_of, inline: twice per request
        if idx < 0:
            return self.warmup
        if idx < self._next_complete:
            # Cannot happen for events of a planned request (its second stays open until it
            # finishes); guard so a bug shows up as a clamped count, not lost data.
            idx = self._next_complete
        b = self._open.get(idx)
        if b is None:
            b = self._open[idx] = SecondStats(idx)
        return b

    def on_sent(self, intended: float, actual: float) -> None:
        b = self._bucket(intended)
        b.sent += 1
        lag = actual - intended
        if lag > LATE_THRESHOLD_S:
            b.late += 1
        b.max_lag = max(b.max_lag, lag)

    def on_done(self, intended: float, outcome: Outcome, latency: float) -> None:
        us = min(max(1, round(latency * 1e6)), HIGHEST_LATENCY_US)
        self._bucket(intended).record(outcome, us)

    def on_error(self, intended: float, message: str) -> None:
        """A probe could not ask its question (see :attr:`Outcome.PROBE_ERROR`)."""
        b = self._bucket(intended)
        b.record(Outcome.PROBE_ERROR, 0)
        if b.error is None:
            b.error = message

    def on_dropped(self, intended: float) -> None:
        self._bucket(intended).dropped += 1

    def complete_until(self, now: float, force: bool = False) -> list[SecondStats]:
        """Close every second that has ended by ``now`` and has nothing in flight.

        Seconds close in order: one with requests still in flight holds back the later ones.
        With ``force`` (end of run), every second up to ``now`` that saw a request closes
        regardless of what is in flight; empty seconds after the last request are not made up;
        with sources, a second some source never sent stays open even then.
        """
        closed: list[SecondStats] = []
        last = math.floor(now - self.origin) - 1  # the last second whose window has passed
        if force:
            # with sources: never past a second one of them has not sent (it died): what it
            # did there is unknown, and the others' part is not the second
            last = min(max(self._open, default=-1), self.sources_behind - 1)
        while self._next_complete <= last:
            if self._next_complete >= self.sources_behind and not force:
                break  # a source has not sent this second yet
            b = self._open.get(self._next_complete) or SecondStats(self._next_complete)
            if b.in_flight > 0 and not force:
                break
            self._open.pop(self._next_complete, None)
            self._done.append(b)
            closed.append(b)
            self._next_complete += 1
            if self._on_complete is not None:
                self._on_complete(b)
        return closed

    @property
    def completed(self) -> int:
        """Number of seconds closed so far (the index of the next one to close)."""
        return self._next_complete

    def window(self, start: int, end: int) -> list[SecondStats]:
        """Completed seconds with ``start <= index < end`` still held in memory."""
        return [s for s in self._done if start <= s.index < end]
