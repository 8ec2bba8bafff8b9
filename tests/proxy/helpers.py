"""Real servers and sockets for the proxy tests: all on 127.0.0.1, ephemeral ports."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import socket
import time
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

from faultlab.proxy.toxics import Command

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


async def echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Echo until EOF, then close."""
    while data := await reader.read(65536):
        writer.write(data)
        await writer.drain()


def reply_after_eof(size: int) -> Handler:
    """Read the whole request (until EOF), then send ``size`` bytes and close."""

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        request = await reader.read()
        writer.write(bytes(i % 251 for i in range(size)) + len(request).to_bytes(8, "big"))
        await writer.drain()

    return handler


class TcpServer:
    """An asyncio server that closes every connection it served when it stops."""

    def __init__(self, handler: Handler) -> None:
        self._handler = handler
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._tasks: set[asyncio.Task[object]] = set()
        self.connections = 0

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        self._writers.add(writer)
        task = asyncio.current_task()
        if task is not None:
            self._tasks.add(task)
        try:
            await self._handler(reader, writer)
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            self._writers.discard(writer)
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()
            if task is not None:
                self._tasks.discard(task)

    async def start(self) -> TcpServer:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        return self

    @property
    def address(self) -> str:
        assert self._server is not None
        return f"127.0.0.1:{self._server.sockets[0].getsockname()[1]}"

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            for writer in list(self._writers):
                writer.close()
            # Let every handler end on its own (its connection is closed): a handler still
            # running at loop teardown is cancelled there, which asyncio logs as an error.
            if self._tasks:
                await asyncio.wait(list(self._tasks), timeout=5)
            await self._server.wait_closed()


class Conn:
    """A client connection; closed by the test's cleanup even when the test fails."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    @classmethod
    async def open(cls, address: str) -> Conn:
        host, _, port = address.rpartition(":")
        reader, writer = await asyncio.open_connection(host, int(port))
        return cls(reader, writer)

    async def round_trip(self, data: bytes) -> tuple[bytes, float]:
        """Send ``data`` and read as much back; both at once, so no buffer can fill up."""
        start = time.monotonic()

        async def send() -> None:
            self.writer.write(data)
            await self.writer.drain()

        _, got = await asyncio.gather(send(), self.reader.readexactly(len(data)))
        return got, time.monotonic() - start

    async def aclose(self) -> None:
        self.writer.close()
        with contextlib.suppress(ConnectionError, OSError):
            await self.writer.wait_closed()


def events(stream_text: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stream_text.splitlines() if line.strip()]


async def eventually(check: Callable[[], Awaitable[bool]], timeout: float = 5.0) -> None:
    """Wait until ``check`` holds; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not await check():
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout}s")
        await asyncio.sleep(0.02)


def r(commands: list[Command]) -> list[Command]:
    """Commands with times rounded to the nanosecond, so transcripts compare exactly."""
    return [dataclasses.replace(c, at=round(c.at, 9)) for c in commands]


@contextlib.contextmanager
def refusing_port() -> Iterator[int]:
    """A port where connections are refused: bound (so no one else gets it), not listening."""
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        yield holder.getsockname()[1]
