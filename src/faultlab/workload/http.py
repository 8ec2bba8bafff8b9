"""Open-loop HTTP/1.1 load at a constant arrival rate, measured from the intended send time.

:class:`HttpLoad` plans request ``i`` at ``start + i / rate`` for every such time ``< stop`` and
sends it at that time whatever happened to earlier requests (k6 constant-arrival-rate, wrk2).
A system that stalls therefore cannot slow the generator down and hide its stall: the requests
planned during the stall still go out on schedule and their latencies include it (no
coordinated omission).

Scheduler invariants (``run``):

- *Plan.* The planned requests are exactly the ``i >= 0`` with ``start + i / rate < stop``,
  where :meth:`HttpLoad.stop_at` may lower ``stop`` during the run (``stop`` may be infinite);
  each intended time is computed from ``i`` (never accumulated), so there is no drift.
- *Every planned request is accounted for, once.* It is either sent
  (``recorder.on_sent(intended, actual)``, later exactly one ``recorder.on_done``) or dropped
  (``recorder.on_dropped(intended)``); ``planned == sent + dropped``. Nothing is skipped.
- *Never early, never delayed by responses.* A request is sent no earlier than its intended
  time. When the scheduler wakes late it sends every overdue request at once, each with its own
  intended time; the lateness is recorded as ``actual - intended`` (``late``, ``max_lag``).
- *Bounded concurrency, visible when hit.* At most ``max_in_flight`` requests are in flight; a
  request planned when the cap is reached is dropped and counted, never queued.
- *Latency is from the intended time*: ``clock.now()`` at completion minus ``intended``.
  Completion means the body was read to the end. A status in ``expect_status`` is OK; any other
  status or any transport or protocol error is FAILED; no completion within ``timeout`` of the
  send is TIMED_OUT, recorded at the moment the timeout fired.
- *Structured.* Each request is a task of one :class:`asyncio.TaskGroup` inside one
  :class:`aiohttp.ClientSession`; when ``run`` returns every request has finished, and when it
  is cancelled the in-flight requests are cancelled (they get no ``on_done``) and the session
  is closed before the cancellation propagates.

A run is *saturated* (``LoadSummary.saturated``) when any request was dropped or more than 1% of
sends were more than 10 ms late: its latency figures then say as much about the generator as
about the system under test, and the verdict must say so.

Times are readings of the injected :class:`~faultlab.clock.Clock`. Only the per-request timeout
uses the event loop's timer, which is the clock the sockets live on anyway. A wake-up is only as
precise as the loop's timers (about 1 ms with asyncio on Linux); that lag is part of the
measured latency, and only lag over 10 ms counts as late.

Every planned request is the same request: redirects are not followed (a 3xx is the answer)
and no cookies are kept between requests.
"""

from __future__ import annotations

import asyncio
import math
from dataclasses import dataclass

import aiohttp
from aiohttp.http_exceptions import HttpProcessingError
from yarl import URL

from faultlab.clock import Clock
from faultlab.workload.stats import LATE_THRESHOLD_S, Outcome, StatsRecorder

__all__ = ["HttpLoad", "HttpRequestSpec", "LoadSummary"]

SATURATION_LATE_FRACTION = 0.01  # more late sends than this fraction: the generator fell behind

# Errors that mean "the request failed", as seen by a user. HttpProcessingError is not a
# ClientError but escapes body reads with aiohttp's pure-Python parser (a malformed chunk).
# Anything else is a bug and propagates (and, through the task group, ends the run).
_REQUEST_ERRORS = (aiohttp.ClientError, OSError, HttpProcessingError)


@dataclass(frozen=True)
class HttpRequestSpec:
    """The one request a load sends over and over. ``timeout`` is in seconds, from the send."""

    url: str
    method: str = "GET"
    headers: tuple[tuple[str, str], ...] = ()
    body: bytes | None = None
    timeout: float = 5.0
    expect_status: frozenset[int] = frozenset(range(200, 400))

    def __post_init__(self) -> None:
        try:
            url = URL(self.url)
        except ValueError:
            url = URL()
        if url.scheme not in ("http", "https") or not url.host:
            raise ValueError(f"request url must be an absolute http(s) URL, got {self.url!r}")
        if not (self.timeout > 0 and math.isfinite(self.timeout)):
            raise ValueError(
                f"request timeout must be a positive number of seconds, got {self.timeout!r}"
            )
        if not self.method or not self.method.isalpha():
            raise ValueError(f"request method must be an HTTP method name, got {self.method!r}")


@dataclass(frozen=True)
class LoadSummary:
    """What the generator did during one ``run``, for the verdict.

    ``late`` counts sends more than 10 ms after their intended time and ``max_lag`` is the
    largest ``actual - intended`` of a send, in seconds. ``saturated`` means the figures are
    partly the generator's doing (drops, or more than 1% of sends late); ``reason`` gives the
    figures (e.g. "3 of 900 planned requests were dropped because 5 requests were already in
    flight"), for a verdict to frame, and is empty otherwise.
    """

    planned: int
    sent: int
    dropped: int
    max_lag: float
    late: int
    saturated: bool
    reason: str


class HttpLoad:
    """Open-loop load: ``spec`` sent ``rate`` times a second. See the module docstring."""

    def __init__(
        self,
        spec: HttpRequestSpec,
        rate: float,
        *,
        max_in_flight: int = 1000,
        clock: Clock,
        recorder: StatsRecorder,
    ) -> None:
        if not (rate > 0 and math.isfinite(rate)):
            raise ValueError(f"rate must be a positive number of requests per second, got {rate!r}")
        if max_in_flight < 1:
            raise ValueError(f"max_in_flight must be at least 1, got {max_in_flight!r}")
        self.spec = spec
        self.rate = rate
        self.max_in_flight = max_in_flight
        self._clock = clock
        self._recorder = recorder
        self._stop = math.inf  # lowered by stop_at
        self._next = math.nan  # the intended time the scheduler is waiting for
        self._interrupt: asyncio.Timeout | None = None  # set while the scheduler plans

    async def run(self, start: float, stop: float) -> LoadSummary:
        """Send the requests planned in ``[start, stop)`` (clock readings); wait for them all.

        ``stop`` may be ``math.inf``, the end being given later by :meth:`stop_at`.
        """
        try:
            async with self._session() as session, asyncio.TaskGroup() as tg:
                run = _Run(session, self.spec, self._clock, self._recorder)
                try:
                    async with asyncio.timeout(None) as interrupt:
                        self._interrupt = interrupt
                        await self._plan(tg, run, start, stop)
                except TimeoutError:
                    if not interrupt.expired():
                        raise  # not ours
                finally:
                    self._interrupt = None
            return run.summary(self.max_in_flight)
        finally:
            self._stop = math.inf
            self._next = math.nan

    def stop_at(self, t: float) -> None:
        """End the plan of the current run at clock time ``t``, if that is before its ``stop``.

        Requests intended before ``t`` are still planned; those in flight finish (each bounded
        by its timeout) before ``run`` returns. A scheduler asleep until a request at or after
        ``t`` stops at once. Called when no run is active, it applies to the next run.
        """
        self._stop = min(self._stop, t)
        interrupt = self._interrupt
        if interrupt is not None and not interrupt.expired() and not self._next < self._stop:
            # Nothing left to plan: wake the scheduler out of its sleep (it only awaits there,
            # never in the middle of a batch).
            interrupt.reschedule(asyncio.get_running_loop().time())

    async def _plan(self, tg: asyncio.TaskGroup, run: _Run, start: float, stop: float) -> None:
        clock, recorder, rate, cap = self._clock, self._recorder, self.rate, self.max_in_flight
        i = 0
        intended = self._next = start
        while intended < min(stop, self._stop):
            now = clock.now()
            if now < intended:
                await clock.sleep_until(intended)
                now = clock.now()
            else:
                # Behind schedule: still let the requests in flight make progress.
                await asyncio.sleep(0)
            # Send everything due by now, each with its own intended time. `now` is read once
            # per wake-up: the batch goes out together.
            end = min(stop, self._stop)
            while intended <= now and intended < end:
                if run.in_flight >= cap:
                    recorder.on_dropped(intended)
                    run.dropped += 1
                else:
                    run.in_flight += 1
                    recorder.on_sent(intended, now)
                    run.sent += 1
                    lag = now - intended
                    if lag > LATE_THRESHOLD_S:
                        run.late += 1
                    if lag > run.max_lag:
                        run.max_lag = lag
                    tg.create_task(run.request(intended))
                i += 1
                intended = start + i / rate
            self._next = intended

    def _session(self) -> aiohttp.ClientSession:
        # One pool as large as the in-flight cap, so a sent request never queues for a
        # connection; keep-alive on. No cookies: each planned request is the same request.
        # aiohttp's own timeouts are off; `_Run.request` applies `spec.timeout` itself.
        connector = aiohttp.TCPConnector(
            limit=self.max_in_flight, limit_per_host=0, force_close=False, use_dns_cache=True
        )
        return aiohttp.ClientSession(
            connector=connector,
            headers=list(self.spec.headers),
            cookie_jar=aiohttp.DummyCookieJar(),
            timeout=aiohttp.ClientTimeout(
                total=None, connect=None, sock_connect=None, sock_read=None
            ),
        )


class _Run:
    """The state of one ``run``: what its request tasks share, and its counts."""

    __slots__ = (
        "body",
        "clock",
        "dropped",
        "expect",
        "in_flight",
        "late",
        "max_lag",
        "method",
        "recorder",
        "sent",
        "session",
        "timeout",
        "url",
    )

    def __init__(
        self,
        session: aiohttp.ClientSession,
        spec: HttpRequestSpec,
        clock: Clock,
        recorder: StatsRecorder,
    ) -> None:
        self.session = session
        self.clock = clock
        self.recorder = recorder
        self.method = spec.method.upper()
        self.url = URL(spec.url)
        self.body = spec.body
        self.timeout = spec.timeout
        self.expect = spec.expect_status
        self.in_flight = 0
        self.sent = 0
        self.dropped = 0
        self.late = 0
        self.max_lag = 0.0

    async def request(self, intended: float) -> None:
        try:
            try:
                async with (
                    asyncio.timeout(self.timeout),
                    self.session.request(
                        self.method, self.url, data=self.body, allow_redirects=False
                    ) as resp,
                ):
                    content = resp.content
                    while await content.readany():
                        pass
                    outcome = Outcome.OK if resp.status in self.expect else Outcome.FAILED
            except TimeoutError:
                outcome = Outcome.TIMED_OUT
            except _REQUEST_ERRORS:
                outcome = Outcome.FAILED
            self.recorder.on_done(intended, outcome, self.clock.now() - intended)
        finally:
            self.in_flight -= 1

    def summary(self, cap: int) -> LoadSummary:
        planned = self.sent + self.dropped
        reasons: list[str] = []
        if self.dropped:
            reasons.append(
                f"{self.dropped} of {planned} planned requests were dropped because "
                f"{cap} requests were already in flight"
            )
        if self.late > SATURATION_LATE_FRACTION * self.sent:
            reasons.append(
                f"{self.late} of {self.sent} sends ({self.late / self.sent:.1%}) went out more "
                f"than {LATE_THRESHOLD_S * 1e3:.0f} ms after their intended time "
                f"(max lag {self.max_lag * 1e3:.0f} ms)"
            )
        return LoadSummary(
            planned,
            self.sent,
            self.dropped,
            self.max_lag,
            self.late,
            bool(reasons),
            "; ".join(reasons),
        )
