"""The demo key-value store: registers and sets over HTTP, persisted to a data file.

    python -m faultlab.demo.services kv --port P --data-file F [--lose-unsynced-writes]
                                        [--pid-file F] [--host H]

Routes: ``GET /kv/{key}`` → ``{"value": v}`` (``null`` when never written); ``PUT /kv/{key}``
``{"value": v}``; ``POST /kv/{key}/cas`` ``{"from": a, "to": b}`` → 200, or 409 with the
current value when the register does not hold ``a``; ``POST /set/{key}/add`` ``{"value": v}``;
``GET /set/{key}`` → ``{"values": [...]}``; ``GET /health``.

The data file is a log, one JSON line per mutation (``{"op": "put"|"add", "key", "value"}``),
replayed at start-up; a torn last line (a crash in the middle of a write) is ignored.

*Durable* (the default): a mutation is appended and fsync'd before it is applied in memory
and acknowledged (the file's creation is fsync'd in its directory too). Handlers never await
between checking a cas and logging it, and the whole service is one event loop, so every
operation takes effect atomically at one instant inside its request: the store is
linearizable, and an acknowledged write survives SIGKILL.

*--lose-unsynced-writes* is the deliberate bug for checkers to catch, and it loses writes by
construction, not by timing: a mutation is applied and acknowledged at once and only kept in
memory; nothing reaches the log until a clean stop (SIGTERM, SIGINT) writes it all. So a
crash (SIGKILL) loses *every* write acknowledged since the process started, and after the
restart a read that should see any of them does not, however the crash falls. (A periodic
background flush would make the loss depend on where the crash falls between two flushes.)
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any, BinaryIO

from aiohttp import web

__all__ = ["Store", "main", "make_app"]

_KEY = r"[A-Za-z0-9_.:-]{1,128}"


class Store:
    """Registers and sets, logged to ``path``; see the module docstring for durability."""

    def __init__(self, path: Path, *, lose_unsynced: bool = False) -> None:
        self.path = path
        self.lose_unsynced = lose_unsynced
        self.registers: dict[str, Any] = {}
        self.sets: dict[str, set[Any]] = {}
        self._unsynced: list[bytes] = []
        self._load()
        # Losing writes, the log is opened only by a clean stop: an abandoned (crashed) store
        # holds nothing that could still reach the file.
        self._file = None if lose_unsynced else self._open()

    @property
    def unsynced(self) -> int:
        """How many acknowledged mutations a crash would lose now (0 when durable)."""
        return len(self._unsynced)

    def _open(self) -> BinaryIO:
        created = not self.path.exists()
        log = self.path.open("ab")
        if created:  # the new file's name must survive a crash too
            directory = os.open(self.path.parent, os.O_RDONLY)
            try:
                os.fsync(directory)
            finally:
                os.close(directory)
        return log

    def _load(self) -> None:
        if not self.path.exists():
            return
        data = self.path.read_bytes()
        lines = data.split(b"\n")
        for number, line in enumerate(lines, 1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except ValueError:
                if number == len(lines):  # torn by a crash mid-write: never acknowledged
                    with self.path.open("r+b") as f:
                        f.truncate(len(data) - len(line))
                    break
                raise ValueError(f"{self.path}:{number}: not a JSON record") from None
            self._apply(record)
        else:
            if lines[-1]:  # a whole record whose newline was cut off
                with self.path.open("ab") as f:
                    f.write(b"\n")

    def _apply(self, record: dict[str, Any]) -> None:
        if record["op"] == "put":
            self.registers[record["key"]] = record["value"]
        else:
            self.sets.setdefault(record["key"], set()).add(record["value"])

    def mutate(self, op: str, key: str, value: Any) -> None:
        """Log (durably, unless losing unsynced writes) and apply one mutation."""
        record = {"op": op, "key": key, "value": value}
        line = json.dumps(record, separators=(",", ":")).encode() + b"\n"
        if self._file is None:
            self._unsynced.append(line)
        else:
            _append(self._file, line)
        self._apply(record)

    def close(self) -> None:
        """A clean stop: what is unsynced is logged now, then the log is closed."""
        if self._unsynced:
            with self._open() as log:
                _append(log, b"".join(self._unsynced))
            self._unsynced.clear()
        if self._file is not None:
            self._file.close()
            self._file = None


def _append(log: BinaryIO, data: bytes) -> None:
    log.write(data)
    log.flush()
    os.fsync(log.fileno())


STORE: web.AppKey[Store] = web.AppKey("store", Store)


def _reply(body: dict[str, Any], status: int = 200) -> web.Response:
    return web.json_response(body, status=status)


async def _body(request: web.Request, *fields: str) -> dict[str, Any]:
    try:
        body = await request.json()
    except ValueError:
        raise web.HTTPBadRequest(text='{"error": "body must be JSON"}',
                                 content_type="application/json") from None
    if not isinstance(body, dict) or any(f not in body for f in fields):
        raise web.HTTPBadRequest(text=json.dumps({"error": f"body needs {list(fields)}"}),
                                 content_type="application/json")
    return body


async def _get(request: web.Request) -> web.Response:
    return _reply({"value": request.app[STORE].registers.get(request.match_info["key"])})


async def _put(request: web.Request) -> web.Response:
    body = await _body(request, "value")
    request.app[STORE].mutate("put", request.match_info["key"], body["value"])
    return _reply({"value": body["value"]})


async def _cas(request: web.Request) -> web.Response:
    body = await _body(request, "from", "to")
    store, key = request.app[STORE], request.match_info["key"]
    current = store.registers.get(key)
    if current != body["from"] or current is None:
        return _reply({"error": "mismatch", "value": current}, 409)
    store.mutate("put", key, body["to"])
    return _reply({"value": body["to"]})


async def _add(request: web.Request) -> web.Response:
    body = await _body(request, "value")
    request.app[STORE].mutate("add", request.match_info["key"], body["value"])
    return _reply({"value": body["value"]})


async def _members(request: web.Request) -> web.Response:
    values = request.app[STORE].sets.get(request.match_info["key"], set())
    return _reply({"values": sorted(values, key=repr)})


async def _health(request: web.Request) -> web.Response:
    return _reply({"status": "ok", "service": "kv"})


def make_app(data_file: Path, *, lose_unsynced: bool = False) -> web.Application:
    app = web.Application()

    async def lifespan(app: web.Application) -> AsyncIterator[None]:
        store = Store(data_file, lose_unsynced=lose_unsynced)
        app[STORE] = store
        try:
            yield
        finally:
            store.close()

    app.cleanup_ctx.append(lifespan)
    app.router.add_get(f"/kv/{{key:{_KEY}}}", _get)
    app.router.add_put(f"/kv/{{key:{_KEY}}}", _put)
    app.router.add_post(f"/kv/{{key:{_KEY}}}/cas", _cas)
    app.router.add_post(f"/set/{{key:{_KEY}}}/add", _add)
    app.router.add_get(f"/set/{{key:{_KEY}}}", _members)
    app.router.add_get("/health", _health)
    return app


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m faultlab.demo.services kv",
                                     description="The demo key-value store.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True, help="port (0: any free one)")
    parser.add_argument("--pid-file", type=Path)
    parser.add_argument("--data-file", type=Path, required=True,
                        help="the log of mutations, replayed at start-up")
    parser.add_argument("--lose-unsynced-writes", action="store_true",
                        help="BUG ON PURPOSE: acknowledge writes that reach the file only "
                             "at a clean stop, so a crash loses all of them")
    ns = parser.parse_args(argv)
    from faultlab.demo.services.serve import serve

    app = make_app(ns.data_file, lose_unsynced=ns.lose_unsynced_writes)
    return asyncio.run(serve(app, ns.host, ns.port, ns.pid_file))


if __name__ == "__main__":
    sys.exit(main())
