"""HTTP calls from one demo service to the service it depends on, in two variants.

Both variants turn every way a call can end into a :class:`~.caller.CallResult` (connection
errors are data, not exceptions), so a handler is a plain ``match`` on the outcome:

- :class:`NaiveDependency` is what a team gets from library defaults minus the safety net:
  one attempt, no timeout at all (``ClientTimeout(total=None)``), so a slow dependency makes
  the caller exactly as slow, and a dead one is an error for the caller's caller.
- :class:`ResilientDependency` runs each GET through a :class:`~.caller.ResilientCaller`
  (bulkhead, deadline, breaker, per-attempt timeout, jittered retries); its connection pool
  is as large as its bulkhead so no call ever queues invisibly for a connection.

Both pass on the :class:`TraceContext` of the request being served with every attempt, the
retries of one call included: the same W3C trace id (each attempt under a parent id of its
own, as each is a span of its own) and the same ``X-Request-Id``. So the system's traces,
and a fault proxy in front of the dependency, can group the attempts by the client request
that caused them.
"""

from __future__ import annotations

import asyncio
import enum
import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol

import aiohttp

from faultlab.demo.caller import Attempt, CallResult, ResilienceConfig, ResilientCaller
from faultlab.demo.resilience import Outcome

__all__ = [
    "Dependency",
    "NaiveDependency",
    "Reply",
    "ResilientDependency",
    "TraceContext",
    "Variant",
    "open_dependency",
]


class Variant(enum.Enum):
    NAIVE = "naive"
    RESILIENT = "resilient"


@dataclass(frozen=True)
class Reply:
    """A response from the dependency: its status and its JSON object body (empty if none)."""

    status: int
    body: Mapping[str, object]


# version-trace_id-parent_id-flags; a later version may append fields, version 00 may not.
_TRACEPARENT = re.compile(r"([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(-.*)?")


@dataclass(frozen=True, slots=True)
class TraceContext:
    """What a call passes on from the request being served: its W3C trace context and its
    ``X-Request-Id``. Empty (nothing to pass on) by default."""

    trace_id: str | None = None
    flags: str = "00"
    tracestate: str | None = None
    request_id: str | None = None

    @classmethod
    def of(cls, headers: Mapping[str, str]) -> TraceContext:
        """From the served request's headers (looked up case-insensitively by aiohttp). A
        ``traceparent`` that is not valid W3C is not passed on, nor is its ``tracestate``."""
        request_id = headers.get("X-Request-Id")
        match = _TRACEPARENT.fullmatch(headers.get("traceparent", "").strip())
        if match is None:
            return cls(request_id=request_id)
        version, trace_id, parent_id, flags, rest = match.groups()
        if (version == "ff" or (version == "00" and rest is not None)
                or trace_id == "0" * 32 or parent_id == "0" * 16):
            return cls(request_id=request_id)
        return cls(trace_id, flags, headers.get("tracestate"), request_id)

    def headers(self) -> dict[str, str]:
        """The headers of one attempt: under the same trace id, a fresh parent id (version
        00, which is what this service speaks, whatever version it was sent)."""
        out: dict[str, str] = {}
        if self.trace_id is not None:
            out["traceparent"] = f"00-{self.trace_id}-{os.urandom(8).hex()}-{self.flags}"
            if self.tracestate:
                out["tracestate"] = self.tracestate
        if self.request_id is not None:
            out["X-Request-Id"] = self.request_id
        return out


class Dependency(Protocol):
    async def get(self, path: str, context: TraceContext = ...) -> CallResult[Reply]: ...

    async def close(self) -> None: ...


async def fetch(session: aiohttp.ClientSession, url: str,
                context: TraceContext = TraceContext()) -> Attempt[Reply]:
    """One GET, classified. Cancellation (e.g. an enclosing timeout) propagates untouched."""
    try:
        async with session.get(url, headers=context.headers()) as response:
            raw = await response.read()
            status = response.status
    except TimeoutError as exc:  # aiohttp's own timeouts; also subclasses of ClientError
        return Attempt(Outcome.TIMEOUT, detail=type(exc).__name__)
    except (aiohttp.ClientError, OSError) as exc:
        return Attempt(Outcome.CONNECTION_ERROR, detail=f"{type(exc).__name__}: {exc}")
    body = _json_object(raw)
    reply = Reply(status, body or {})
    if status >= 500:
        return Attempt(Outcome.SERVER_ERROR, reply, f"HTTP {status}")
    if status >= 400:
        return Attempt(Outcome.CLIENT_ERROR, reply, f"HTTP {status}")
    if body is None:
        return Attempt(Outcome.SERVER_ERROR, reply, "response body is not a JSON object")
    return Attempt(Outcome.OK, reply)


def _json_object(raw: bytes) -> dict[str, object] | None:
    try:
        value = json.loads(raw)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def _join(base_url: str, path: str) -> str:
    return base_url.rstrip("/") + "/" + path.lstrip("/")


class NaiveDependency:
    """One attempt, no timeout, no retry: the dependency's latency and failures pass through."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url
        self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=None))

    async def get(self, path: str, context: TraceContext = TraceContext()) -> CallResult[Reply]:
        attempt = await fetch(self._session, _join(self.base_url, path), context)
        return CallResult(attempt.outcome, attempt.value, 1, attempt.detail)

    async def close(self) -> None:
        await self._session.close()


class ResilientDependency:
    """GETs through a :class:`~.caller.ResilientCaller` that owns this dependency's breaker."""

    def __init__(self, base_url: str, config: ResilienceConfig) -> None:
        self.base_url = base_url
        self.caller = ResilientCaller(config)
        connector = aiohttp.TCPConnector(limit=config.bulkhead_limit)
        # Timeouts are the caller's job (asyncio.timeout per attempt); none from aiohttp.
        self._session = aiohttp.ClientSession(
            connector=connector, timeout=aiohttp.ClientTimeout(total=None)
        )

    async def get(self, path: str, context: TraceContext = TraceContext()) -> CallResult[Reply]:
        url = _join(self.base_url, path)

        async def attempt(budget: float) -> Attempt[Reply]:
            try:
                async with asyncio.timeout(budget):
                    return await fetch(self._session, url, context)
            except TimeoutError:
                return Attempt(Outcome.TIMEOUT, detail=f"no answer within {budget * 1000:.0f}ms")

        return await self.caller.call("GET", attempt)

    async def close(self) -> None:
        await self._session.close()


def open_dependency(
    base_url: str, variant: Variant, config: ResilienceConfig
) -> NaiveDependency | ResilientDependency:
    """Must run inside the event loop (aiohttp sessions bind to the running loop)."""
    if variant is Variant.NAIVE:
        return NaiveDependency(base_url)
    return ResilientDependency(base_url, config)
