"""History clients: one logical process's connection to a real system, recording outcomes.

:class:`Client` is the protocol (``setup``, ``apply(kind, key, value)``, ``close``);
:func:`make_client` builds one from plain values (``"redis"``, ``"127.0.0.1:6379"``), as the
experiment format names them. Systems (:data:`CLIENT_KINDS`):

============  ============================================================================
``kv-http``   faultlab's demo KV service: registers with cas, sets
``redis``     strings as registers (cas by a Lua script), sets, lists as queues
``postgres``  rows as registers, a table as a set, a bank of account rows
``etcd``      v3 KV through the HTTP gateway: registers with cas (txn), sets (prefixes)
============  ============================================================================

Errors, as a tree (every operation ends in a value or one of these)::

    ClientError
    ├── Definite     certainly not applied → the history records ``fail``
    └── Indefinite   unknown (timeout, connection lost) → ``info``

The client modules import their driver (redis-py, asyncpg, aiohttp) only when built.
"""

from __future__ import annotations

from faultlab.workload.clients.base import (
    Client,
    ClientError,
    Definite,
    Indefinite,
    OpKind,
)

__all__ = [
    "CLIENT_KINDS",
    "Client",
    "ClientError",
    "Definite",
    "Indefinite",
    "OpKind",
    "make_client",
]

CLIENT_KINDS = ("kv-http", "redis", "postgres", "etcd")


def make_client(kind: str, address: str, *, timeout: float = 1.0, user: str = "postgres",
                database: str = "postgres", password: str | None = None,
                serializable: bool = False, wait: tuple[int, float] | None = None) -> Client:
    """A client of system ``kind`` (one of :data:`CLIENT_KINDS`) at ``host:port``.

    ``user``, ``database`` and ``password`` are for ``postgres`` only, ``serializable``
    (reads) for ``etcd``, ``wait`` (replicas, timeout: WAIT after each write) for ``redis``.
    Raises ValueError for an unknown kind or a malformed address.
    """
    if kind == "kv-http":
        from faultlab.workload.clients.kv_http import KvHttpClient

        return KvHttpClient(address, timeout=timeout)
    if kind == "redis":
        from faultlab.workload.clients.redis import RedisClient

        return RedisClient(address, timeout=timeout, wait=wait)
    if kind == "postgres":
        from faultlab.workload.clients.postgres import PostgresClient

        return PostgresClient(address, timeout=timeout, user=user, database=database,
                              password=password)
    if kind == "etcd":
        from faultlab.workload.clients.etcd import EtcdClient

        return EtcdClient(address, timeout=timeout, serializable=serializable)
    from faultlab.history.errors import suggest

    raise ValueError(f"unknown client {kind!r}: {suggest(kind, CLIENT_KINDS)}")
