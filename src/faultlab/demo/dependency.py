"""HTTP calls from one demo service to the service it depends on, in two variants.

Both variants turn every way a call can end into a :class:`~.caller.CallResult` (connection
errors are data, not exceptions), so a handler is a plain ``match`` on the outcome:

- :class:`NaiveDependency` is what a team gets from library defaults minus the safety net:
  one attempt, no timeout at all (``ClientTimeout(total=None)``), so a slow dependency makes
  the caller exactly as slow, and a dead one is an error for the caller's caller.
- :class:`ResilientDependency` runs each GET through a :class:`~.caller.ResilientCaller`
  (bulkhead, deadline, breaker, per-attempt timeout, jittered retries); its connection pool
  is as large as its bulkhead so no call ever queues invisibly for a connection.
"""

from __future__ import annotations

import asyncio
import enum
import json
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


class Dependency(Protocol):
    async def get(self, path: str) -> CallResult[Reply]: ...

    async def close(self) -> None: ...


async def fetch(session: aiohttp.ClientSession, url: str) -> Attempt[Reply]:
    """One GET, classified. Cancellation (e.g. an enclosing timeout) propagates untouched."""
    try:
        async with session.get(url) as response:
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

    async def get(self, path: str) -> CallResult[Reply]:
        attempt = await fetch(self._session, _join(self.base_url, path))
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

    async def get(self, path: str) -> CallResult[Reply]:
        url = _join(self.base_url, path)

        async def attempt(budget: float) -> Attempt[Reply]:
            try:
                async with asyncio.timeout(budget):
                    return await fetch(self._session, url)
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
