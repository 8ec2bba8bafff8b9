"""Open-loop HTTP/1.1 load at a constant arrival rate, measured from the intended send time.

:class:`HttpLoad` plans request ``i`` at ``start + i / rate`` for every such time ``< stop`` and
sends it at that time whatever happened to earlier requests (k6 constant-arrival-rate, wrk2).
A system that stalls therefore cannot slow the generator down and hide its stall: the requests
planned during the stall still go out on schedule and their latencies include it (no
coordinated omission).

Scheduler invariants (``run``):

- *Plan.* The planned requests are exactly the ``i >= 0`` with ``start + i / rate < stop``;
  each one's intended time is computed from ``i`` (never accumulated), so there is no drift.
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

Times are readings of the injected :class:`~faultlab.clock.Clock`. Only the per-request timeout
uses the event loop's timer, which is the clock the sockets live on anyway.
"""

from __future__ import annotations

import asyncio
import math
from dataclasses import dataclass, field

import aiohttp
from aiohttp.http_exceptions import HttpProcessingError
from yarl import URL

from faultlab.clock import Clock
from faultlab.workload.stats import LATE_THRESHOLD_S, Outcome, StatsRecorder

__all__ = ["HttpLoad", "HttpRequestSpec", "LoadSummary"]

SATURATION_LATE_FRACTION = 0.01  # more late sends than this fraction: the generator fell behind

# Errors that mean "the request failed", as seen by a user. Anything else is a bug and
# propagates (and, through the task group, ends the run).
_REQUEST_ERRORS = (aiohttp.ClientError, OSError, HttpProcessingError)


@dataclass(frozen=True)
class HttpRequestSpec:
    """The one request a load sends over and over. ``timeout`` is in seconds, from the send."""

    url: str
    method: str = "GET"
    headers: tuple[tuple[str, str], ...] = ()
    body: bytes | None = None
    timeout: float = 5.0
    expect_status: frozenset[int] = field(default=frozenset(range(200, 400)))

    def __post_init__(self) -> None:
        url = URL(self.url)
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
    partly the generator's doing (drops, or more than 1% of sends late); ``reason`` says how,
    and is empty otherwise.
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

    async def run(self, start: float, stop: float) -> LoadSummary:
        """Send the requests planned in ``[start, stop)`` (clock readings); wait for them all."""
        clock, recorder, rate, cap = self._clock, self._recorder, self.rate, self.max_in_flight
        sent = dropped = late = 0
        max_lag = 0.0
        i = 0
        async with self._session() as session, asyncio.TaskGroup() as tg:
            flight = _Flight(session, self.spec, clock, recorder)
            intended = start
            while intended < stop:
                now = clock.now()
                if now < intended:
                    await clock.sleep_until(intended)
                    now = clock.now()
                else:
                    # Behind schedule: still let the requests in flight make progress.
                    await asyncio.sleep(0)
                # Send everything due by now, each with its own intended time. `now` is read
                # once per wake-up: the batch goes out together.
                while intended <= now and intended < stop:
                    if flight.in_flight >= cap:
                        recorder.on_dropped(intended)
                        dropped += 1
                    else:
                        flight.in_flight += 1
                        recorder.on_sent(intended, now)
                        sent += 1
                        lag = now - intended
                        if lag > LATE_THRESHOLD_S:
                            late += 1
                        if lag > max_lag:
                            max_lag = lag
                        tg.create_task(flight.request(intended))
                    i += 1
                    intended = start + i / rate
        return _summary(sent, dropped, max_lag, late, cap)

    def _session(self) -> aiohttp.ClientSession:
        # One pool as large as the in-flight cap, so a sent request never queues for a
        # connection; keep-alive on. No cookies: each planned request is the same request.
        # aiohttp's own timeouts are off; `_Flight.request` applies `spec.timeout` itself.
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


class _Flight:
    """The state the request tasks of one ``run`` share."""

    __slots__ = (
        "body",
        "clock",
        "expect",
        "in_flight",
        "method",
        "recorder",
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


def _summary(sent: int, dropped: int, max_lag: float, late: int, cap: int) -> LoadSummary:
    planned = sent + dropped
    reasons: list[str] = []
    if dropped:
        reasons.append(
            f"{dropped} of {planned} planned requests were dropped because "
            f"{cap} requests were already in flight"
        )
    if late > SATURATION_LATE_FRACTION * sent:
        reasons.append(
            f"{late} of {sent} sends ({late / sent:.1%}) went out more than "
            f"{LATE_THRESHOLD_S * 1e3:.0f} ms after their intended time "
            f"(max lag {max_lag * 1e3:.0f} ms), so latency figures include generator lag"
        )
    reason = "the generator fell behind its schedule: " + "; ".join(reasons) if reasons else ""
    return LoadSummary(planned, sent, dropped, max_lag, late, bool(reasons), reason)
