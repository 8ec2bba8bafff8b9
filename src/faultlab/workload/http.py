"""Open-loop HTTP/1.1 load at a constant arrival rate, measured from the intended send time.

:class:`HttpLoad` plans request ``i`` at ``start + i / rate`` with the shared scheduler,
:class:`~faultlab.workload.openloop.OpenLoop` (whose docstring states the plan, accounting,
lateness, in-flight cap, warm-up and ``stop_at`` invariants), and sends it at that time
whatever happened to earlier requests. What this module adds is the request itself:

- *Latency is from the intended time*: ``clock.now()`` at completion minus ``intended``.
  Completion means the body was read to the end. A status in ``expect_status`` is OK; any
  other status or any transport or protocol error is FAILED; no completion within ``timeout``
  of the send is TIMED_OUT, recorded at the moment the timeout fired. Every sent request gets
  exactly one ``recorder.on_done``.
- *Two clients, one behaviour.* Requests go through the lean HTTP/1.1 client of
  :mod:`faultlab.workload.lean_http` (an asyncio Protocol per keep-alive connection, httptools'
  C parser; a fifth of aiohttp's CPU per request) when it supports the request, and
  through aiohttp otherwise (``https``, credentials in the URL, HEAD, framing headers);
  :attr:`HttpLoad.client` and :attr:`LoadSummary.client` say which. Both classify outcomes
  as above.
- *Structured.* Every request runs inside one client (an :class:`aiohttp.ClientSession` or
  a lean connection pool); when ``run`` returns every request has finished, and when it is
  cancelled the in-flight requests are cancelled (they get no ``on_done``) and every
  connection is closed before the cancellation propagates.
- *Every planned request is the same request*: redirects are not followed (a 3xx is the
  answer) and no cookies are kept between requests. The connection pool is as large as the
  in-flight cap, so a sent request never queues for a connection. With ``traceparent`` on,
  the one difference is a fresh W3C ``traceparent`` header per request (a random trace id
  and parent id, sampled), so the system's traces and faultlab's proxy can tell the
  requests, and the retries each one causes, apart.

*Worker processes.* With ``workers`` above 1 the load runs in that many OS processes, each
the same load on arrivals ``i`` with ``i mod workers == k``; their per-second statistics are
merged exactly into ``recorder`` (:mod:`faultlab.workload.worker` states the protocol and its
invariants). The clock must then be the real one (CLOCK_MONOTONIC), which the workers share.

Times are readings of the injected :class:`~faultlab.clock.Clock`. Only the per-request
timeout uses the event loop's timer, which is the clock the sockets live on anyway.
"""

from __future__ import annotations

import asyncio
import math
import random
from dataclasses import dataclass
from typing import Literal

import aiohttp
from aiohttp.http_exceptions import HttpProcessingError
from msgspec.structs import replace
from yarl import URL

from faultlab.clock import Clock
from faultlab.workload import lean_http
from faultlab.workload.openloop import LoadSummary, OpenLoop
from faultlab.workload.session import single_attempt_session
from faultlab.workload.stats import Outcome, StatsRecorder
from faultlab.workload.worker import WorkerPlan, WorkerPool

__all__ = ["HttpLoad", "HttpRequestSpec", "LoadSummary", "new_traceparent"]

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
    traceparent: bool = False

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
        if self.traceparent and any(n.lower() == "traceparent" for n, _ in self.headers):
            raise ValueError("a traceparent header and traceparent: true exclude each other: "
                             "the load makes a fresh one per request")


def new_traceparent(ids: random.Random) -> str:
    """A W3C traceparent (version 00, sampled) with a random trace id and parent id; neither
    is ever all zeros, which the recommendation calls invalid. About a microsecond."""
    while True:
        hexits = ids.randbytes(24).hex()
        trace_id, parent_id = hexits[:32], hexits[32:]
        if trace_id != _ZERO_TRACE_ID and parent_id != _ZERO_PARENT_ID:
            return f"00-{trace_id}-{parent_id}-01"


_ZERO_TRACE_ID, _ZERO_PARENT_ID = "0" * 32, "0" * 16

#: which HTTP client a load sends through; "auto" is the lean one when it supports the request
ClientChoice = Literal["auto", "lean", "aiohttp"]


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
        client: ClientChoice = "auto",
        workers: int = 1,
        share: tuple[int, int] = (0, 1),
        marker: str | None = None,
        pool: WorkerPool | None = None,
    ) -> None:
        """``workers`` above 1 runs the load in worker processes (see the module docstring),
        each carrying ``marker`` (the run's) in its environment; ``pool`` is those workers
        when they were spawned already (:meth:`WorkerPool.spawn`, in
        a workload's ``prepare``), else :meth:`prepare` or :meth:`run` spawns them. ``share``
        is a worker's own part of the plan (``(k, n)``: arrivals ``i`` with ``i % n == k``)."""
        if not (rate > 0 and math.isfinite(rate)):
            raise ValueError(f"rate must be a positive number of requests per second, got {rate!r}")
        lean = lean_http.supports(spec.url, spec.method, spec.headers)
        if client == "lean" and not lean:
            raise ValueError(f"the lean HTTP client cannot send {spec.method} {spec.url} with "
                             "these headers (https, credentials, HEAD or framing headers)")
        #: the client the requests go through: "lean" or "aiohttp"
        self.client: Literal["lean", "aiohttp"] = (
            "lean" if lean and client != "aiohttp" else "aiohttp")
        self.spec = spec
        self.rate = rate
        self.max_in_flight = max_in_flight
        self._clock = clock
        self._recorder = recorder
        self._loop = OpenLoop(rate, max_in_flight=max_in_flight, clock=clock, recorder=recorder,
                              share=share)
        self._pool: WorkerPool | None = None
        if workers > 1:
            if share != (0, 1):
                raise ValueError("a share of a load runs in one process: workers must be 1")
            plan = WorkerPlan(spec, rate, workers, max_in_flight, client)
            if pool is not None and pool.plan != plan:
                raise ValueError("the worker pool was spawned for another load")
            self._pool = pool or WorkerPool(plan, clock, marker)
        elif workers < 1:
            raise ValueError(f"workers must be at least 1, got {workers!r}")
        elif pool is not None:
            raise ValueError("a worker pool needs workers above 1")

    async def prepare(self) -> None:
        """Spawn the worker processes (with ``workers`` above 1; else nothing), so their
        start-up is over before :meth:`run`; see :meth:`WorkerPool.spawn` for their life."""
        if self._pool is not None and not self._pool.spawned:
            await self._pool.spawn()

    async def run(self, start: float, stop: float, *, origin: float | None = None
                  ) -> LoadSummary:
        """Send the requests planned in ``[start, stop)`` (clock readings); wait for them all.

        ``stop`` may be ``math.inf``, the end being given later by :meth:`stop_at`; requests
        intended before ``origin`` (default ``start``) are the warm-up, not measured.
        """
        if self._pool is not None:
            self._pool.stop_at(stop)
            await self._pool.run(start, start if origin is None else origin, self._recorder)
            return self.summary()
        if self.client == "lean":
            spec = self.spec
            pool = lean_http.LeanClient(URL(spec.url))
            try:
                lean = lean_http.LeanRequest(
                    pool, url=spec.url, method=spec.method, headers=spec.headers,
                    body=spec.body, timeout=spec.timeout, expect_status=spec.expect_status,
                    traceparent=random.Random() if spec.traceparent else None,
                    new_traceparent=new_traceparent, clock=self._clock,
                    recorder=self._recorder)
                return replace(await self._loop.run(start, stop, lean, origin=origin,
                                                    now=lean.now), client="lean")
            finally:
                pool.close()
        async with self._session() as session:
            request = _Request(session, self.spec, self._clock, self._recorder)
            return replace(await self._loop.run(start, stop, request, origin=origin),
                           client="aiohttp")

    def stop_at(self, t: float) -> None:
        """End the plan at clock time ``t`` (see :meth:`OpenLoop.stop_at`)."""
        if self._pool is not None:
            self._pool.stop_at(t)
        self._loop.stop_at(t)

    def summary(self) -> LoadSummary:
        """The figures of the current (or last) run so far, warm-up apart."""
        if self._pool is not None:
            return replace(self._pool.summary(), client=self._pool.client or self.client)
        return replace(self._loop.summary(), client=self.client)

    def _session(self) -> aiohttp.ClientSession:
        # One pool as large as the in-flight cap, so a sent request never queues for a
        # connection; keep-alive on. No cookies: each planned request is the same request.
        # aiohttp's own timeouts are off; `_Request` applies `spec.timeout` itself.
        connector = aiohttp.TCPConnector(
            limit=self.max_in_flight, limit_per_host=0, force_close=False, use_dns_cache=True
        )
        return single_attempt_session(
            connector=connector,
            headers=list(self.spec.headers),
            cookie_jar=aiohttp.DummyCookieJar(),
            timeout=aiohttp.ClientTimeout(
                total=None, connect=None, sock_connect=None, sock_read=None
            ),
        )


class _Request:
    """The one request of a run, as the scheduler launches it: ``await request(intended, i)``."""

    __slots__ = ("body", "clock", "expect", "ids", "method", "recorder", "session", "timeout",
                 "url")

    def __init__(self, session: aiohttp.ClientSession, spec: HttpRequestSpec, clock: Clock,
                 recorder: StatsRecorder) -> None:
        self.session = session
        self.clock = clock
        self.recorder = recorder
        self.method = spec.method.upper()
        self.url = URL(spec.url)
        self.body = spec.body
        self.timeout = spec.timeout
        self.expect = spec.expect_status
        # Trace ids name requests, they decide nothing: a generator seeded by the OS, not the
        # run's seed, so a re-run of the same plan does not reuse the first run's trace ids.
        self.ids = random.Random() if spec.traceparent else None

    async def __call__(self, intended: float, i: int) -> None:
        headers = None if self.ids is None else {"traceparent": new_traceparent(self.ids)}
        try:
            async with (
                asyncio.timeout(self.timeout),
                self.session.request(
                    self.method, self.url, data=self.body, headers=headers,
                    allow_redirects=False
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
