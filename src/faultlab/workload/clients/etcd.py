"""A history client for etcd v3, through its HTTP/JSON gateway (no gRPC library).

- registers: ``POST /v3/kv/range`` (linearizable reads, etcd's default), ``/v3/kv/put``, and
  compare-and-set as ``/v3/kv/txn`` comparing the key's value, putting only if it matches;
- sets: one key per element under ``{key}/``; an add is a put, a read a prefix range.

Keys and values travel base64-encoded; values are decimal integers. The gateway answers
``{"succeeded": true}`` for a txn that took its success branch and omits the field (proto3's
default) when it did not.

Outcomes: a connection that cannot be opened, a txn whose compare failed and a 4xx answer
are :class:`Definite`; a timeout, a lost connection, a 5xx (e.g. "request timed out" while
the cluster may still commit it) or an unreadable answer are :class:`Indefinite`.
"""

from __future__ import annotations

import asyncio
import base64
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

__all__ = ["EtcdClient"]


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def _unb64(text: object) -> str:
    if not isinstance(text, str):
        raise Indefinite(f"unexpected field {text!r}")
    return base64.b64decode(text).decode()


def _prefix_end(prefix: str) -> str:
    """The smallest key greater than every key starting with ``prefix`` (ASCII prefixes)."""
    return prefix[:-1] + chr(ord(prefix[-1]) + 1)


class EtcdClient:
    """Registers (with cas) and sets on the etcd member at ``address`` (``host:port``)."""

    kinds = frozenset({OpKind.READ, OpKind.WRITE, OpKind.CAS, OpKind.ADD, OpKind.READ_SET})

    def __init__(self, address: str, *, timeout: float = 1.0) -> None:
        host, port = host_port(address)
        self.base = f"http://{'[' + host + ']' if ':' in host else host}:{port}"
        self.timeout = check_timeout(timeout)
        self._session: aiohttp.ClientSession | None = None

    async def setup(self) -> None:
        """Checks that the member answers a range request (etcd needs no preparation)."""
        try:
            await self._call("range", {"key": _b64("faultlab-setup")})
        except (Definite, Indefinite) as exc:
            raise Definite(f"etcd at {self.base} is not reachable: {exc}") from None

    async def apply(self, kind: OpKind, key: str, value: Value) -> Value:
        if kind is OpKind.READ:
            kvs = (await self._call("range", {"key": _b64(key)})).get("kvs") or []
            return int(_unb64(kvs[0].get("value", ""))) if kvs else None
        if kind is OpKind.WRITE:
            written = str(as_int(value, "a write"))
            await self._call("put", {"key": _b64(key), "value": _b64(written)})
            return value
        if kind is OpKind.CAS:
            expected, new = pair(value, "a cas")
            answer = await self._call("txn", {
                "compare": [{"key": _b64(key), "result": "EQUAL", "target": "VALUE",
                             "value": _b64(str(expected))}],
                "success": [{"requestPut": {"key": _b64(key), "value": _b64(str(new))}}],
                "failure": []})
            if answer.get("succeeded") is not True:
                raise Definite(f"cas: {key} does not hold {expected}")
            return value
        if kind is OpKind.ADD:
            element = as_int(value, "an add")
            await self._call("put", {"key": _b64(f"{key}/{element}"), "value": _b64("1")})
            return value
        if kind is OpKind.READ_SET:
            prefix = f"{key}/"
            answer = await self._call("range", {"key": _b64(prefix),
                                                "range_end": _b64(_prefix_end(prefix)),
                                                "keys_only": True})
            names = [_unb64(kv.get("key")) for kv in answer.get("kvs") or []]
            return tuple(sorted(int(name[len(prefix):]) for name in names))
        raise unsupported(self, kind)

    async def close(self) -> None:
        if self._session is not None:
            session, self._session = self._session, None
            await close_quietly(session.close(), self.timeout)

    async def _call(self, method: str, body: dict[str, Any]) -> dict[str, Any]:
        if self._session is None:
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=1),
                cookie_jar=aiohttp.DummyCookieJar(),
                timeout=aiohttp.ClientTimeout(total=None))
        try:
            async with asyncio.timeout(self.timeout), self._session.post(
                    f"{self.base}/v3/kv/{method}", json=body, allow_redirects=False) as resp:
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
