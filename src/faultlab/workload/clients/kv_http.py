"""A history client for the demo key-value service (:mod:`faultlab.demo.services.kv`) over HTTP.

Registers: ``GET /kv/{key}`` → ``{"value": v}``, ``PUT /kv/{key}`` ``{"value": v}``, ``POST
/kv/{key}/cas`` ``{"from": a, "to": b}`` (409 when the register does not hold ``a``). Sets:
``POST /set/{key}/add`` ``{"value": v}``, ``GET /set/{key}`` → ``{"values": [...]}``.

Outcomes: a connection that could not be opened, a 409 and other 4xx answers are
:class:`Definite` (nothing was applied); a timeout, a connection lost after sending, a 5xx or
an unreadable answer are :class:`Indefinite`. Redirects are not followed and requests are
never retried: a retry could apply a write twice.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import aiohttp
from aiohttp.http_exceptions import HttpProcessingError

from faultlab.history import Value
from faultlab.workload.clients.base import (
    Definite,
    Indefinite,
    OpKind,
    as_int,
    check_timeout,
    close_quietly,
    host_port,
    pair,
    unsupported,
)

__all__ = ["KvHttpClient"]


class KvHttpClient:
    """Registers and sets on the demo KV service at ``address`` (``host:port``)."""

    kinds = frozenset({OpKind.READ, OpKind.WRITE, OpKind.CAS, OpKind.ADD, OpKind.READ_SET})

    def __init__(self, address: str, *, timeout: float = 1.0) -> None:
        host, port = host_port(address)
        self.base = f"http://{'[' + host + ']' if ':' in host else host}:{port}"
        self.timeout = check_timeout(timeout)
        self._session: aiohttp.ClientSession | None = None

    async def setup(self) -> None:
        """Checks that the service answers (it needs no preparation)."""
        try:
            await self._call("GET", "/health", None)
        except (Definite, Indefinite) as exc:
            raise Definite(f"kv service at {self.base} is not reachable: {exc}") from None

    async def apply(self, kind: OpKind, key: str, value: Value) -> Value:
        if kind is OpKind.READ:
            body = await self._call("GET", f"/kv/{key}", None)
            return _json_value(body.get("value"))
        if kind is OpKind.WRITE:
            await self._call("PUT", f"/kv/{key}", {"value": as_int(value, "a write")})
            return value
        if kind is OpKind.CAS:
            expected, new = pair(value, "a cas")
            await self._call("POST", f"/kv/{key}/cas", {"from": expected, "to": new})
            return value
        if kind is OpKind.ADD:
            await self._call("POST", f"/set/{key}/add", {"value": as_int(value, "an add")})
            return value
        if kind is OpKind.READ_SET:
            body = await self._call("GET", f"/set/{key}", None)
            values = body.get("values")
            if not isinstance(values, list):
                raise Indefinite(f"unexpected answer {body!r}")
            return tuple(sorted(values))
        raise unsupported(self, kind)

    async def close(self) -> None:
        if self._session is not None:
            session, self._session = self._session, None
            await close_quietly(session.close(), self.timeout)

    async def _call(self, method: str, path: str, body: object) -> dict[str, Any]:
        if self._session is None:
            # One connection per client: it is one logical process. No automatic timeouts
            # (ours applies to the whole exchange), no cookies.
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=1),
                cookie_jar=aiohttp.DummyCookieJar(),
                timeout=aiohttp.ClientTimeout(total=None))
        try:
            async with asyncio.timeout(self.timeout), self._session.request(
                    method, self.base + path, json=body, allow_redirects=False) as resp:
                status, text = resp.status, await resp.text()
        except TimeoutError:
            raise Indefinite(f"no answer within {self.timeout:g}s") from None
        except aiohttp.ClientConnectorError as exc:
            raise Definite(f"cannot connect: {exc.os_error}") from None
        except (aiohttp.ClientError, OSError, HttpProcessingError) as exc:
            raise Indefinite(f"connection lost: {type(exc).__name__} {exc}".rstrip()) from None
        if status >= 500:
            raise Indefinite(f"HTTP {status}: {text[:200]}")
        if status >= 400:
            raise Definite(f"HTTP {status}: {text[:200]}")
        try:
            answer = json.loads(text)
        except ValueError:
            raise Indefinite(f"unreadable answer {text[:200]!r}") from None
        if not isinstance(answer, dict):
            raise Indefinite(f"unexpected answer {text[:200]!r}")
        return answer


def _json_value(value: object) -> Value:
    if value is None or isinstance(value, (int, str)):
        return value
    raise Indefinite(f"unexpected register value {value!r}")
