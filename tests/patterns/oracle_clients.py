"""Real services for the oracle tests: a dependency that misbehaves on purpose, a faultlab
proxy in front of it that observes every request, and aiohttp clients that do (or fail to
do) what the resilience patterns ask.

Everything is on 127.0.0.1 with ephemeral ports; every loop is bounded by a count and
every task belongs to a TaskGroup of the caller's, so a test ends with nothing running.
Each client request carries a W3C traceparent (its own trace id, a fresh parent id per
attempt) and an X-Request-Id, both kept on its retries. Randomness comes from seeded
generators, so only the machine's timing varies from run to run.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import math
import random
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from dataclasses import dataclass
from typing import Any

import aiohttp
from aiohttp import web

from faultlab.patterns.oracles import Evidence, Window
from faultlab.proxy.client import ProxyClient
from faultlab.proxy.events import EventLog
from faultlab.proxy.observe import RequestObservation
from faultlab.proxy.server import ProxyServer

#: a bound on any one scenario, so a bug hangs no test (never a verdict's condition)
SCENARIO_LIMIT_S = 60.0
#: polls for the proxy to see the last connections end (20 ms apart)
SETTLE_POLLS = 250


class Dependency:
    """An HTTP service that misbehaves as told, switched while it runs:

    - ``fail_first``: the first N attempts of each X-Request-Id are answered 503;
    - ``hold``: each request is held that many seconds before its answer.

    An outage is the proxy's (its http_abort toxic answers 503 in the dependency's place).
    """

    def __init__(self) -> None:
        self.fail_first = 0
        self.hold = 0.0
        self._seen: dict[str, int] = {}
        self._release = asyncio.Event()
        self._runner: web.AppRunner | None = None
        self.address = ""

    async def _handle(self, request: web.Request) -> web.Response:
        hold = self.hold
        if hold > 0:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(hold):
                    await self._release.wait()
        key = request.headers.get("X-Request-Id", "")
        attempt = self._seen[key] = self._seen.get(key, 0) + 1
        if attempt <= self.fail_first:
            return web.Response(status=503, text="unavailable")
        return web.Response(text="ok")

    async def start(self) -> Dependency:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        host, port = self._runner.addresses[0][:2]
        self.address = f"{host}:{port}"
        return self

    async def close(self) -> None:
        self._release.set()  # held requests are answered now
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None


@dataclass
class Bench:
    """The dependency behind an observing faultlab proxy; ``url`` is the proxy's."""

    dependency: Dependency
    proxies: ProxyClient
    url: str

    async def requests(self) -> list[RequestObservation]:
        """Every request the proxy recorded, once none is still open (or the polls run
        out: an open request is evidence too)."""
        page = await self.proxies.observations("dep")
        for _ in range(SETTLE_POLLS):
            if not page.open:
                break
            await asyncio.sleep(0.02)
            page = await self.proxies.observations("dep")
        return [r for r in page.records if isinstance(r, RequestObservation)] + page.open

    def outage(self, on: bool) -> Step:
        """A step that starts (or ends) an outage: the proxy answers every request 503."""
        async def step() -> None:
            if on:
                await self.proxies.add_toxic("dep", "http_abort", {"status": 503},
                                             stream="upstream", name="outage")
            else:
                await self.proxies.remove_toxic("dep", "outage")
        return step

    async def evidence(self, fault: Window, before: Window | None = None,
                       after: Window | None = None) -> Evidence:
        return Evidence(await self.requests(), fault, before, after)


@contextlib.asynccontextmanager
async def bench() -> AsyncIterator[Bench]:
    dependency = await Dependency().start()
    try:
        async with ProxyServer(events=EventLog(io.StringIO()), seed=1) as server, \
                ProxyClient(server.api_url) as proxies:
            info = await proxies.create_proxy("dep", "127.0.0.1:0", dependency.address,
                                              observe=True)
            assert info.get("observe") is True
            yield Bench(dependency, proxies, f"http://{info['listen']}")
    finally:
        await dependency.close()


def now() -> float:
    return time.monotonic()


# --- one client request ------------------------------------------------------------------------

class Tracer:
    """Trace and request ids from a seeded generator."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)

    def request(self) -> tuple[str, str]:
        return f"{self.rng.getrandbits(128):032x}", f"req-{self.rng.getrandbits(64):016x}"

    def headers(self, trace: str, request_id: str) -> dict[str, str]:
        return {"traceparent": f"00-{trace}-{self.rng.getrandbits(64) or 1:016x}-01",
                "X-Request-Id": request_id}


async def call(session: aiohttp.ClientSession, url: str, headers: dict[str, str],
               timeout: float | None = None) -> bool:
    """One attempt: True for a 2xx; False for anything else, no answer in ``timeout``
    included (the connection is closed then, as clients that give up do)."""
    try:
        async with asyncio.timeout(timeout):
            async with session.get(url, headers=headers) as response:
                await response.read()
                return response.status < 300
    except (TimeoutError, aiohttp.ClientError):
        return False


# --- retries -----------------------------------------------------------------------------------

@dataclass(frozen=True)
class Retry:
    """How a client retries: ``attempts`` in all (None: until one succeeds, at most
    ``UNBOUNDED_CAP``), waiting ``delay(k, rng)`` seconds after failed attempt k."""

    attempts: int | None
    delay: Callable[[int, random.Random], float]


UNBOUNDED_CAP = 30  # the test's own bound on a client that has none


def immediate(attempts: int) -> Retry:
    return Retry(attempts, lambda k, rng: 0.0)


def fixed_delay(delay: float, attempts: int) -> Retry:
    return Retry(attempts, lambda k, rng: delay)


def full_jitter(base: float, attempts: int | None, cap: float = math.inf) -> Retry:
    """Exponential backoff with full jitter (AWS's): uniform in [0, min(cap, base 2^(k-1))]."""
    return Retry(attempts, lambda k, rng: rng.uniform(0.0, min(cap, base * 2 ** (k - 1))))


async def retrying_requests(url: str, policy: Retry, *, requests: int, every: float,
                            seed: int) -> list[int]:
    """``requests`` client requests started ``every`` seconds apart (open loop), each
    retried by ``policy``; the attempts each made. Each request draws its ids and delays
    from a generator of its own, so the delays do not depend on how the requests
    interleave: only the machine's timing varies between runs."""
    made: list[int] = []

    async def one(session: aiohttp.ClientSession, i: int) -> None:
        tracer = Tracer(seed * 1_000_003 + i)
        trace, request_id = tracer.request()
        limit = policy.attempts or UNBOUNDED_CAP
        for k in range(1, limit + 1):
            if await call(session, url, tracer.headers(trace, request_id)):
                break
            if k < limit:
                await asyncio.sleep(policy.delay(k, tracer.rng))
        made.append(k)

    await open_loop(one, count=requests, every=every)
    return made


# --- open-loop load ----------------------------------------------------------------------------

async def open_loop(send: Callable[[aiohttp.ClientSession, int], Coroutine[Any, Any, None]], *,
                    count: int, every: float) -> None:
    """Start ``send(session, i)`` at t0 + i * every for i < count (late ones at once: the
    schedule does not slip), each as its own task; return when all have ended."""
    connector = aiohttp.TCPConnector(limit=0)
    async with asyncio.timeout(SCENARIO_LIMIT_S), \
            aiohttp.ClientSession(connector=connector) as session, asyncio.TaskGroup() as tg:
        start = now()
        for i in range(count):
            delay = start + i * every - now()
            if delay > 0:
                await asyncio.sleep(delay)
            tg.create_task(send(session, i))


Step = Callable[[], Awaitable[None]]


async def phases(*steps: tuple[float, Step]) -> list[float]:
    """Run each step ``delay`` seconds after the previous one; the times each was done (the
    proxy's clock), which bound the phases."""
    marks = []
    for delay, action in steps:
        await asyncio.sleep(delay)
        await action()
        marks.append(now())
    return marks


def setting(target: object, name: str, value: object) -> Step:
    """A step that sets ``target.name`` to ``value``."""
    async def step() -> None:
        setattr(target, name, value)
    return step


# --- circuit breakers --------------------------------------------------------------------------

class Breaker:
    """Opens after ``failures`` consecutive failures; after ``cool_down`` one probe goes
    through (half-open): its success closes the breaker, its failure opens it again.
    ``cool_down=math.inf`` is a breaker that never closes again."""

    def __init__(self, failures: int, cool_down: float) -> None:
        self.failures = failures
        self.cool_down = cool_down
        self._consecutive = 0
        self._opened: float | None = None
        self._probing = False

    def admit(self) -> bool | None:
        """None: rejected; else whether the call is the half-open probe."""
        if self._opened is None:
            return False
        if self._probing or now() - self._opened < self.cool_down:
            return None
        self._probing = True
        return True

    def record(self, ok: bool, probe: bool) -> None:
        if probe:
            self._probing = False
            self._opened = None if ok else now()
            self._consecutive = 0
        elif self._opened is None:  # answers to calls admitted before it opened count
            self._consecutive = 0 if ok else self._consecutive + 1
            if self._consecutive >= self.failures:
                self._opened = now()


async def calls_through(url: str, breaker: Breaker | None, *, rate: float, duration: float,
                        seed: int, timeout: float = 1.0) -> None:
    """Open-loop calls at ``rate`` for ``duration`` through ``breaker`` (None: without)."""
    tracer = Tracer(seed)

    async def one(session: aiohttp.ClientSession, i: int) -> None:
        probe = False if breaker is None else breaker.admit()
        if probe is None:
            return  # rejected by the open breaker: the dependency never sees it
        ok = await call(session, url, tracer.headers(*tracer.request()), timeout)
        if breaker is not None:
            breaker.record(ok, probe)

    await open_loop(one, count=round(rate * duration), every=1 / rate)


# --- timeouts and concurrency ------------------------------------------------------------------

async def timed_calls(url: str, *, timeout: float | None, count: int, every: float,
                      seed: int) -> None:
    """Open-loop calls, each given up after ``timeout`` (None: waits for its answer)."""
    tracer = Tracer(seed)

    async def one(session: aiohttp.ClientSession, i: int) -> None:
        await call(session, url, tracer.headers(*tracer.request()), timeout)

    await open_loop(one, count=count, every=every)


async def limited_calls(url: str, *, limit: int | None, count: int, every: float,
                        seed: int) -> None:
    """Open-loop calls, at most ``limit`` in flight (a semaphore; None: no bound): the
    others wait for a slot."""
    tracer = Tracer(seed)
    slots = asyncio.Semaphore(limit) if limit is not None else None

    async def one(session: aiohttp.ClientSession, i: int) -> None:
        headers = tracer.headers(*tracer.request())
        if slots is None:
            await call(session, url, headers)
            return
        async with slots:
            await call(session, url, headers)

    await open_loop(one, count=count, every=every)


# --- retry budgets -----------------------------------------------------------------------------

class RetryBudget:
    """Retries as a share of requests (Finagle's and gRPC's retry budget): every request
    earns ``share`` of a token, a retry spends a whole one; ``None`` is no budget at all."""

    def __init__(self, share: float | None, cap: float = 10.0) -> None:
        self.share = share
        self.cap = cap
        self.tokens = 0.0

    def earn(self) -> None:
        if self.share is not None:
            self.tokens = min(self.cap, self.tokens + self.share)

    def spend(self) -> bool:
        if self.share is None:
            return True
        if self.tokens < 1.0:
            return False
        self.tokens -= 1.0
        return True


async def budgeted_calls(url: str, budget: RetryBudget, *, attempts: int, rate: float,
                         duration: float, seed: int) -> None:
    """Open-loop calls at ``rate`` for ``duration``, each retried at once up to
    ``attempts`` in all while ``budget`` allows."""
    tracer = Tracer(seed)

    async def one(session: aiohttp.ClientSession, i: int) -> None:
        budget.earn()
        headers = tracer.headers(*tracer.request())
        for k in range(1, attempts + 1):
            if await call(session, url, headers) or k == attempts or not budget.spend():
                return

    await open_loop(one, count=round(rate * duration), every=1 / rate)
