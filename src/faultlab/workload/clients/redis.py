"""A history client for Redis, with redis-py's asyncio API.

- registers are strings: ``GET``, ``SET``, and compare-and-set by a Lua script (atomic on
  the server: it compares and sets in one step, so no WATCH/MULTI round trips);
- sets: ``SADD``, ``SMEMBERS``;
- queues are lists: ``RPUSH``, ``LPOP`` (``None`` when empty).

redis-py retries a command after a connection error or timeout by default; a retried
``RPUSH`` or ``SADD`` may apply twice, which is a history the system never produced, so the
client is built with no retries at all. A connection that cannot be opened is
:class:`Definite`; a timeout or an error after the command was sent is :class:`Indefinite`;
an error *reply* (the server refused the command) is :class:`Definite`.
"""

from __future__ import annotations

import asyncio
from typing import Any

from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError, ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError

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

__all__ = ["RedisClient"]

# KEYS[1] holds ARGV[1]? then set it to ARGV[2] and return 1; else 0. A missing key holds
# nothing, so "expected None" is not expressible: the load never asks for it.
_CAS = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[2])
  return 1
end
return 0
"""


class RedisClient:
    """Registers, sets and queues on the Redis server at ``address`` (``host:port``)."""

    kinds = frozenset({OpKind.READ, OpKind.WRITE, OpKind.CAS, OpKind.ADD, OpKind.READ_SET,
                       OpKind.ENQUEUE, OpKind.DEQUEUE})

    def __init__(self, address: str, *, timeout: float = 1.0, db: int = 0,
                 wait: tuple[int, float] | None = None) -> None:
        self.host, self.port = host_port(address)
        self.timeout = check_timeout(timeout)
        self.db = db
        self.wait = wait  # (replicas, seconds): WAIT after each write
        self._redis: Redis | None = None

    def _conn(self) -> Redis:
        if self._redis is None:
            self._redis = Redis(
                host=self.host, port=self.port, db=self.db,
                socket_timeout=None, socket_connect_timeout=self.timeout,
                retry=Retry(NoBackoff(), 0),
                single_connection_client=True, decode_responses=True)
        return self._redis

    async def setup(self) -> None:
        """Checks that the server answers ``PING`` (Redis needs no preparation)."""
        try:
            await self._run(self._conn().ping())
        except (Definite, Indefinite) as exc:
            raise Definite(f"redis at {self.host}:{self.port} is not reachable: {exc}") from None

    async def apply(self, kind: OpKind, key: str, value: Value) -> Value:
        r = self._conn()
        if kind is OpKind.READ:
            return _int_or_none(await self._run(r.get(key)))
        if kind is OpKind.WRITE:
            await self._run(r.set(key, as_int(value, "a write")))
            return await self._replicated(value)
        if kind is OpKind.CAS:
            expected, new = pair(value, "a cas")
            if not await self._run(r.eval(_CAS, 1, key, str(expected), str(new))):
                raise Definite(f"cas: {key} does not hold {expected}")
            return await self._replicated(value)
        if kind is OpKind.ADD:
            await self._run(r.sadd(key, as_int(value, "an add")))
            return await self._replicated(value)
        if kind is OpKind.READ_SET:
            members = await self._run(r.smembers(key))
            return tuple(sorted(int(m) for m in members))
        if kind is OpKind.ENQUEUE:
            await self._run(r.rpush(key, as_int(value, "an enqueue")))
            return value
        if kind is OpKind.DEQUEUE:
            return _int_or_none(await self._run(r.lpop(key)))
        raise unsupported(self, kind)

    async def _replicated(self, value: Value) -> Value:
        """With ``wait``: the write is acknowledged only once enough replicas have it. Fewer
        is not a failure (the primary applied it; a replica may have it too): unknown."""
        if self.wait is None:
            return value
        replicas, seconds = self.wait
        try:
            got = await self._run(self._conn().wait(replicas, round(seconds * 1000)))
        except Definite as exc:  # the write was sent and applied: its fate is unknown
            raise Indefinite(f"WAIT: {exc}") from None
        if int(got) < replicas:
            raise Indefinite(f"WAIT: {got} of {replicas} replicas acknowledged within "
                             f"{seconds:g}s")
        return value

    async def close(self) -> None:
        if self._redis is not None:
            redis, self._redis = self._redis, None
            await close_quietly(redis.aclose(), self.timeout)

    async def _run(self, command: Any) -> Any:
        try:
            async with asyncio.timeout(self.timeout):
                return await command
        except TimeoutError:
            raise Indefinite(f"no answer within {self.timeout:g}s") from None
        except RedisConnectionError as exc:
            # redis-py says "Error connecting" / "Connection refused" only while connecting.
            text = str(exc)
            if "connecting" in text.lower() or isinstance(exc.__cause__, ConnectionRefusedError):
                raise Definite(f"cannot connect: {text}") from None
            raise Indefinite(f"connection lost: {text}") from None
        except RedisTimeoutError as exc:
            raise Indefinite(f"timeout: {exc}") from None
        except ResponseError as exc:
            raise Definite(f"refused: {exc}") from None
        except RedisError as exc:
            raise Indefinite(f"{type(exc).__name__}: {exc}") from None


def _int_or_none(raw: object) -> Value:
    if raw is None:
        return None
    try:
        return int(str(raw))
    except ValueError:
        raise Indefinite(f"unexpected value {raw!r}") from None
