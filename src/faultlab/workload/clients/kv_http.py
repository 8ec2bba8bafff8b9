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

from faultlab.history import Value
from faultlab.workload.clients.base import (
    Definite,
    Indefinite,
    OpKind,
    as_int,
    host_port,
    pair,
    unsupported,
)
from faultlab.workload.clients.jsonhttp import JsonHttp

__all__ = ["KvHttpClient"]


class KvHttpClient(JsonHttp):
    """Registers and sets on the demo KV service at ``address`` (``host:port``)."""

    kinds = frozenset({OpKind.READ, OpKind.WRITE, OpKind.CAS, OpKind.ADD, OpKind.READ_SET})

    def __init__(self, address: str, *, timeout: float = 1.0) -> None:
        super().__init__(*host_port(address), timeout)

    async def setup(self) -> None:
        """Checks that the service answers (it needs no preparation)."""
        try:
            await self.call("GET", "/health", None)
        except (Definite, Indefinite) as exc:
            raise Definite(f"kv service at {self.base} is not reachable: {exc}") from None

    async def apply(self, kind: OpKind, key: str, value: Value) -> Value:
        if kind is OpKind.READ:
            body = await self.call("GET", f"/kv/{key}", None)
            return _json_value(body.get("value"))
        if kind is OpKind.WRITE:
            await self.call("PUT", f"/kv/{key}", {"value": as_int(value, "a write")})
            return value
        if kind is OpKind.CAS:
            expected, new = pair(value, "a cas")
            await self.call("POST", f"/kv/{key}/cas", {"from": expected, "to": new})
            return value
        if kind is OpKind.ADD:
            await self.call("POST", f"/set/{key}/add", {"value": as_int(value, "an add")})
            return value
        if kind is OpKind.READ_SET:
            body = await self.call("GET", f"/set/{key}", None)
            values = body.get("values")
            if not isinstance(values, list):
                raise Indefinite(f"unexpected answer {body!r}")
            return tuple(sorted(values))
        raise unsupported(self, kind)


def _json_value(value: object) -> Value:
    if value is None or isinstance(value, (int, str)):
        return value
    raise Indefinite(f"unexpected register value {value!r}")
