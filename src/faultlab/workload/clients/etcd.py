"""A history client for etcd v3, through its HTTP/JSON gateway (no gRPC library).

- registers: ``POST /v3/kv/range`` (linearizable reads, etcd's default; with
  ``serializable`` the member answers from its local state without asking the quorum, which
  etcd documents as possibly stale), ``/v3/kv/put``, and compare-and-set as ``/v3/kv/txn``
  comparing the key's value, putting only if it matches;
- sets: one key per element under ``{key}/``; an add is a put, a read a prefix range.

Keys and values travel base64-encoded; values are decimal integers. The gateway answers
``{"succeeded": true}`` for a txn that took its success branch and omits the field (proto3's
default) when it did not.

Outcomes: a connection that cannot be opened, a txn whose compare failed and a 4xx answer
are :class:`Definite`; a timeout, a lost connection, a 5xx (e.g. "request timed out" while
the cluster may still commit it) or an unreadable answer are :class:`Indefinite`.
"""

from __future__ import annotations

import base64
from typing import Any

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


class EtcdClient(JsonHttp):
    """Registers (with cas) and sets on the etcd member at ``address`` (``host:port``)."""

    kinds = frozenset({OpKind.READ, OpKind.WRITE, OpKind.CAS, OpKind.ADD, OpKind.READ_SET})

    def __init__(self, address: str, *, timeout: float = 1.0,
                 serializable: bool = False) -> None:
        super().__init__(*host_port(address), timeout)
        self.serializable = serializable

    async def setup(self) -> None:
        """Checks that the member answers a range request (etcd needs no preparation)."""
        try:
            await self._call("range", {"key": _b64("faultlab-setup")})
        except (Definite, Indefinite) as exc:
            raise Definite(f"etcd at {self.base} is not reachable: {exc}") from None

    async def apply(self, kind: OpKind, key: str, value: Value) -> Value:
        if kind is OpKind.READ:
            body: dict[str, Any] = {"key": _b64(key)}
            if self.serializable:
                body["serializable"] = True
            kvs = (await self._call("range", body)).get("kvs") or []
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

    async def _call(self, method: str, body: dict[str, Any]) -> dict[str, Any]:
        return await self.call("POST", f"/v3/kv/{method}", body)
