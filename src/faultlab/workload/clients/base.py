"""What every history client is: the :class:`Client` protocol, operation kinds, errors.

A client performs one operation at a time on one real system and says what it knows about
the outcome. The outcome is the whole point of a history, so the error tree is small and
strict::

    ClientError                 (any operation that did not return a value)
    ├── Definite                the operation certainly did not take effect  → ``fail``
    └── Indefinite              it may or may not have taken effect          → ``info``

``Definite`` is only for cases that prove nothing happened: the connection could not be
opened (nothing was sent), the server answered that it refused (a cas whose expected value
did not match, a transfer without funds, a serialization failure that rolled back). Anything
else — a timeout, a connection lost after the request was sent, an unexpected answer — is
``Indefinite``: recording ``fail`` for an operation that in fact took effect makes a correct
system look broken, while ``info`` only makes the checker search a little more.

A client instance serves one logical process (one connection, Jepsen's ``open!``): after an
``Indefinite`` error the load closes it and opens a fresh one for a fresh process, so no
request of the crashed process can still be queued on the connection the next one uses.
Clients connect lazily, in their first :meth:`Client.apply`, so an unreachable server shows
up in the history as ``fail`` operations rather than as an exception.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Awaitable, Mapping
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:  # validating a file imports this module: no history readers for it
    from faultlab.history import Value

__all__ = [
    "Client",
    "ClientError",
    "Definite",
    "Indefinite",
    "OpKind",
    "check_timeout",
    "host_port",
]


class OpKind(enum.Enum):
    """What a client is asked to do; :attr:`f` is the function name recorded in histories."""

    READ = "read"  # register: value or None
    WRITE = "write"  # register: value → value
    CAS = "cas"  # register: (expected, new) → (expected, new); Definite if it did not match
    ADD = "add"  # set: element → element
    READ_SET = "read-set"  # set: → sorted tuple of elements
    ENQUEUE = "enqueue"  # queue: element → element
    DEQUEUE = "dequeue"  # queue: → head element, or None when empty
    TRANSFER = "transfer"  # bank: (from, to, amount) → same; Definite without funds
    READ_BANK = "read-bank"  # bank: → {account: balance}
    OPEN_BANK = "open-bank"  # bank set-up, never recorded: {account: balance} if not present

    @property
    def f(self) -> str:
        return _F.get(self, self.value)


_F = {OpKind.READ_SET: "read", OpKind.READ_BANK: "read", OpKind.OPEN_BANK: "open"}


class ClientError(Exception):
    """An operation did not return a value; see the module docstring for the subclasses."""


class Definite(ClientError):
    """The operation certainly did not take effect: record ``fail``."""


class Indefinite(ClientError):
    """The operation may or may not have taken effect: record ``info``."""


class Client(Protocol):
    """One logical process's connection to a system under test.

    ``kinds`` are the operations it supports. :meth:`setup` prepares the server for a load
    (tables, initial state) once, before the run, and raises :class:`ClientError` if the
    server cannot be reached; it is idempotent and safe to call from several clients at
    once. :meth:`apply` performs one operation within the client's timeout and returns its
    result (see :class:`OpKind`), or raises :class:`Definite` / :class:`Indefinite`; it is
    called by one task at a time. :meth:`close` releases the connection, never waits longer
    than the timeout, and never raises.
    """

    kinds: frozenset[OpKind]

    async def setup(self) -> None: ...

    async def apply(self, kind: OpKind, key: str, value: Value) -> Value: ...

    async def close(self) -> None: ...


def check_timeout(timeout: float) -> float:
    if not (timeout > 0 and math.isfinite(timeout)):
        raise ValueError(f"timeout must be a positive number of seconds, got {timeout!r}")
    return timeout


def host_port(address: str) -> tuple[str, int]:
    """``"host:port"`` (``"[::1]:port"`` for IPv6) as a pair; ValueError with the address."""
    host, sep, port = address.rpartition(":")
    host = host.strip("[]")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"expected an address like 127.0.0.1:6379, got {address!r}")
    return host, int(port)


def unsupported(client: object, kind: OpKind) -> ValueError:
    return ValueError(f"{type(client).__name__} does not support {kind.value} operations")


def as_int(value: Value, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{what} must be an integer, got {value!r}")
    return value


def pair(value: Value, what: str) -> tuple[int, int]:
    if not (isinstance(value, tuple) and len(value) == 2):
        raise ValueError(f"{what} must be a pair, got {value!r}")
    return as_int(value[0], what), as_int(value[1], what)


def transfer(value: Value) -> tuple[str, str, int]:
    if not (isinstance(value, tuple) and len(value) == 3 and isinstance(value[0], str)
            and isinstance(value[1], str)):
        raise ValueError(f"a transfer must be (from, to, amount), got {value!r}")
    return value[0], value[1], as_int(value[2], "a transfer amount")


def balances(value: Value) -> Mapping[str, int]:
    if not isinstance(value, dict):
        raise ValueError(f"accounts must be a map of name to balance, got {value!r}")
    return {str(k): as_int(v, "a balance") for k, v in value.items()}


async def close_quietly(coro: Awaitable[object], timeout: float) -> None:
    """Await a close coroutine for at most ``timeout``; a close never raises."""
    import asyncio

    try:
        async with asyncio.timeout(timeout):
            await coro
    except Exception:  # closing a broken connection: nothing left to learn from it
        pass
