"""A history client for PostgreSQL, with asyncpg (one connection per logical process).

Tables (created by :meth:`PostgresClient.setup`, under an advisory lock so that concurrent
set-ups do not race on the catalogue):

- registers are rows of ``faultlab_registers(key, value)``: a read is a ``SELECT``, a write
  an upsert, a cas ``UPDATE ... WHERE key = $1 AND value = $2`` (one statement: the row lock
  and the re-check of the ``WHERE`` clause after a concurrent update make it atomic);
- a set is the rows of ``faultlab_sets`` with one key (an add inserts; a read selects);
- a bank is the rows of ``faultlab_bank`` with one key, one per account: a transfer moves an
  amount between two rows in one ``SERIALIZABLE`` transaction, refusing to overdraw; a read
  returns every balance in one statement (one snapshot).

Outcomes: a connection that cannot be opened, an error the server answers (a statement it
rejected, a serialization failure: both rolled back) and a transfer without funds are
:class:`Definite`; a timeout, a lost connection (SQLSTATE class 08) or an operator
intervention (class 57, e.g. the server shutting down) are :class:`Indefinite`: the commit
may have happened without its answer arriving.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import TypeVar

import asyncpg
from asyncpg.exceptions import OperatorInterventionError, PostgresConnectionError

from faultlab.history import Value
from faultlab.workload.clients.base import (
    Definite,
    Indefinite,
    OpKind,
    as_int,
    balances,
    check_timeout,
    close_quietly,
    host_port,
    pair,
    transfer,
    unsupported,
)

__all__ = ["PostgresClient"]

T = TypeVar("T")

_SCHEMA_LOCK = 0x6661756C746C6162  # pg_advisory_xact_lock id: "faultlab" in ASCII
_SCHEMA = """
CREATE TABLE IF NOT EXISTS faultlab_registers (key text PRIMARY KEY, value bigint NOT NULL);
CREATE TABLE IF NOT EXISTS faultlab_sets (key text, value bigint, PRIMARY KEY (key, value));
CREATE TABLE IF NOT EXISTS faultlab_bank (
    key text, account text, balance bigint NOT NULL, PRIMARY KEY (key, account));
"""


class PostgresClient:
    """Registers, sets and a bank on the PostgreSQL server at ``address`` (``host:port``)."""

    kinds = frozenset({OpKind.READ, OpKind.WRITE, OpKind.CAS, OpKind.ADD, OpKind.READ_SET,
                       OpKind.TRANSFER, OpKind.READ_BANK, OpKind.OPEN_BANK})

    def __init__(self, address: str, *, timeout: float = 1.0, user: str = "postgres",
                 database: str = "postgres", password: str | None = None) -> None:
        self.host, self.port = host_port(address)
        self.timeout = check_timeout(timeout)
        self.user, self.database, self.password = user, database, password
        self._conn: asyncpg.Connection | None = None
        self._broken = False

    async def setup(self) -> None:
        """Create the tables if they are missing."""
        conn = await self._connect()

        async def create() -> None:
            async with conn.transaction():
                await conn.execute("SELECT pg_advisory_xact_lock($1)", _SCHEMA_LOCK)
                await conn.execute(_SCHEMA)

        try:
            await self._run(create())
        except Indefinite as exc:
            raise Definite(f"cannot create the tables: {exc}") from None

    async def apply(self, kind: OpKind, key: str, value: Value) -> Value:
        conn = await self._connect()
        if kind is OpKind.READ:
            return await self._run(conn.fetchval(
                "SELECT value FROM faultlab_registers WHERE key = $1", key))
        if kind is OpKind.WRITE:
            await self._run(conn.execute(
                "INSERT INTO faultlab_registers VALUES ($1, $2) "
                "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                key, as_int(value, "a write")))
            return value
        if kind is OpKind.CAS:
            expected, new = pair(value, "a cas")
            status = await self._run(conn.execute(
                "UPDATE faultlab_registers SET value = $3 WHERE key = $1 AND value = $2",
                key, expected, new))
            if status != "UPDATE 1":
                raise Definite(f"cas: {key} does not hold {expected}")
            return value
        if kind is OpKind.ADD:
            await self._run(conn.execute(
                "INSERT INTO faultlab_sets VALUES ($1, $2) ON CONFLICT DO NOTHING",
                key, as_int(value, "an add")))
            return value
        if kind is OpKind.READ_SET:
            rows = await self._run(conn.fetch(
                "SELECT value FROM faultlab_sets WHERE key = $1 ORDER BY value", key))
            return tuple(int(row[0]) for row in rows)
        if kind is OpKind.TRANSFER:
            await self._run(self._transfer(conn, key, *transfer(value)))
            return value
        if kind is OpKind.READ_BANK:
            rows = await self._run(conn.fetch(
                "SELECT account, balance FROM faultlab_bank WHERE key = $1", key))
            return {str(row[0]): int(row[1]) for row in rows}
        if kind is OpKind.OPEN_BANK:
            accounts = balances(value)
            await self._run(conn.execute(
                "INSERT INTO faultlab_bank SELECT $1, a, b "
                "FROM unnest($2::text[], $3::bigint[]) AS t(a, b) ON CONFLICT DO NOTHING",
                key, list(accounts), list(accounts.values())))
            return value
        raise unsupported(self, kind)

    async def _transfer(self, conn: asyncpg.Connection, key: str, source: str, target: str,
                        amount: int) -> None:
        async with conn.transaction(isolation="serializable"):
            taken = await conn.execute(
                "UPDATE faultlab_bank SET balance = balance - $3 "
                "WHERE key = $1 AND account = $2 AND balance >= $3", key, source, amount)
            if taken != "UPDATE 1":
                raise Definite(f"transfer: {source} lacks {amount}")  # rolls back
            given = await conn.execute(
                "UPDATE faultlab_bank SET balance = balance + $3 "
                "WHERE key = $1 AND account = $2", key, target, amount)
            if given != "UPDATE 1":
                raise Definite(f"transfer: no account {target}")

    async def close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is None:
            return
        if self._broken:
            conn.terminate()  # the connection's state is unknown: do not talk to it
        else:
            await close_quietly(conn.close(timeout=self.timeout), self.timeout)
            if not conn.is_closed():
                conn.terminate()

    async def _connect(self) -> asyncpg.Connection:
        if self._conn is not None:
            return self._conn
        try:
            async with asyncio.timeout(self.timeout):
                self._conn = await asyncpg.connect(
                    host=self.host, port=self.port, user=self.user, database=self.database,
                    password=self.password, timeout=self.timeout, command_timeout=None)
        except (TimeoutError, OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
            # Nothing was sent on a connection that does not exist yet.
            raise Definite(f"cannot connect: {type(exc).__name__} {exc}".rstrip()) from None
        self._broken = False
        return self._conn

    async def _run(self, operation: Awaitable[T]) -> T:
        try:
            async with asyncio.timeout(self.timeout):
                return await operation
        except Definite:
            raise
        except TimeoutError:
            self._broken = True
            raise Indefinite(f"no answer within {self.timeout:g}s") from None
        except (PostgresConnectionError, OperatorInterventionError, OSError,
                asyncpg.InterfaceError) as exc:
            self._broken = True
            raise Indefinite(f"connection lost: {type(exc).__name__} {exc}".rstrip()) from None
        except asyncpg.PostgresError as exc:
            raise Definite(f"refused: {exc.sqlstate} {exc}") from None
