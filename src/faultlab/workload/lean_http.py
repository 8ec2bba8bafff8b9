"""The lean HTTP/1.1 client of the open-loop load: one asyncio Protocol per keep-alive
connection, responses parsed by httptools (llhttp, in C), no per-request objects but a future
and a timer.

aiohttp's client costs ~250-300 µs of CPU per request by itself, which caps one core at
~3,500 requests/s; this path does the same request for a fraction of that, so the generator,
not its HTTP client, sets the limit. It serves what it fully supports (:func:`supports`):
plain ``http://`` URLs without credentials, any method but HEAD and CONNECT, and headers that
do not change the framing or the connection; :class:`~faultlab.workload.http.HttpLoad` sends
anything else through aiohttp.

Invariants of :class:`LeanRequest` (the launch the scheduler runs once per sent request):

- *One outcome per request*, reported once with ``recorder.on_done`` and a latency measured
  from the intended send time: a complete response (body read to the end) whose status is
  in ``expect_status`` is OK, any other status FAILED; a connect error, a reset, a close
  before the response is complete, or a response httptools cannot parse is FAILED; no
  complete response ``timeout`` seconds after the send (connecting included) is TIMED_OUT,
  and the connection is closed at that moment, so a late answer cannot be taken for the
  next request's.
- *No pipelining.* A connection carries one request at a time; it goes back to the idle
  pool only once its response is complete and the server keeps it alive. Data that arrives
  on a connection with no request outstanding closes it.
- *Bounded pool.* Each request in flight holds at most one connection, so the scheduler's
  in-flight cap bounds the connections; idle ones are reused last-in first-out (the warmest).
- *Structured.* A cancelled request closes its connection (it is mid-response) and reports
  nothing; :meth:`LeanClient.close` closes every connection.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable
from typing import cast

import httptools
from yarl import URL

from faultlab.clock import Clock
from faultlab.workload.stats import Outcome, StatsRecorder

__all__ = ["LeanClient", "LeanRequest", "supports"]

_FAILED, _TIMED_OUT = -1, -2  # what a request's future holds when there is no status
_NOT_SUPPORTED_HEADERS = frozenset(
    {"content-length", "transfer-encoding", "connection", "expect", "upgrade", "te",
     "keep-alive", "proxy-connection"})
_BODYLESS_METHODS = frozenset({"GET", "DELETE", "OPTIONS", "TRACE"})


def supports(url: str, method: str, headers: tuple[tuple[str, str], ...]) -> bool:
    """Whether the lean client can send this request exactly as configured."""
    u = URL(url)
    if u.scheme != "http" or u.user is not None or u.password is not None or not u.host:
        return False
    if method.upper() in ("HEAD", "CONNECT"):  # HEAD: llhttp would wait for the body
        return False
    for name, value in headers:
        if name.lower() in _NOT_SUPPORTED_HEADERS or any(c in name + value for c in "\r\n\0"):
            return False
    return True


class _Connection(asyncio.Protocol):
    """One keep-alive connection; ``waiter`` is the outstanding request's future, if any."""

    def __init__(self, client: LeanClient) -> None:
        self.client = client
        self.parser = httptools.HttpResponseParser(self)
        self.transport: asyncio.Transport | None = None
        self.waiter: asyncio.Future[int] | None = None
        self.closed = False
        self.status = 0
        self.framed = False  # Content-Length or Transfer-Encoding seen: the body is delimited
        self.headers_done = False

    # -- asyncio.Protocol

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # (uvloop's transports do not derive from asyncio.Transport; they implement it)
        self.transport = cast(asyncio.Transport, transport)
        self.client.connections.add(self)

    def data_received(self, data: bytes) -> None:
        if self.waiter is None:  # nothing asked for: not a server this client understands
            self.abort()
            return
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            self._finish(self.status, keep_alive=False)  # switched protocols: done with it
        except httptools.HttpParserError:
            self._finish(_FAILED, keep_alive=False)

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self.client.connections.discard(self)
        if self in self.client.idle:  # closed by the server while idle (its keep-alive ended)
            self.client.idle.remove(self)
        waiter, self.waiter = self.waiter, None
        if waiter is not None and not waiter.done():
            # A body without Content-Length or chunking ends at the close; anything else
            # cut off by the close is a failed request.
            complete = exc is None and self.headers_done and not self.framed
            waiter.set_result(self.status if complete else _FAILED)

    # -- httptools callbacks

    def on_message_begin(self) -> None:
        if self.waiter is None:  # a second response to one request
            raise RuntimeError("unsolicited response")
        self.status, self.framed, self.headers_done = 0, False, False

    def on_header(self, name: bytes, value: bytes) -> None:
        if not self.framed:
            n = name.lower()
            self.framed = n == b"content-length" or n == b"transfer-encoding"

    def on_headers_complete(self) -> None:
        self.status = self.parser.get_status_code()
        self.headers_done = True

    def on_message_complete(self) -> None:
        if 100 <= self.status < 200 and self.status != 101:
            return  # an interim response (100 Continue, 103 Early Hints): the answer follows
        self._finish(self.status, keep_alive=self.parser.should_keep_alive())

    # -- the client's side

    def send(self, data: bytes, waiter: asyncio.Future[int]) -> None:
        if self.closed or self.transport is None:
            waiter.set_result(_FAILED)
            return
        self.waiter = waiter
        self.transport.write(data)

    def expire(self, waiter: asyncio.Future[int]) -> None:
        """The request's timeout: it is timed out and the connection closed, now."""
        if not waiter.done():
            waiter.set_result(_TIMED_OUT)
            self.abort()

    def abort(self) -> None:
        self.closed = True
        self.waiter = None
        if self.transport is not None:
            self.transport.abort()

    def _finish(self, result: int, *, keep_alive: bool) -> None:
        waiter, self.waiter = self.waiter, None
        if waiter is not None and not waiter.done():
            waiter.set_result(result)
        if keep_alive and not self.closed:
            self.client.idle.append(self)
        else:
            self.abort()


class LeanClient:
    """The connections of one run to one origin (``host:port``)."""

    def __init__(self, url: URL) -> None:
        self.host = url.raw_host or ""
        self.port = url.port or 80
        self.idle: list[_Connection] = []
        self.connections: set[_Connection] = set()

    def take_idle(self) -> _Connection | None:
        idle = self.idle
        while idle:
            conn = idle.pop()
            if not conn.closed:
                return conn
        return None

    async def connect(self) -> _Connection:
        _, conn = await asyncio.get_running_loop().create_connection(
            lambda: _Connection(self), self.host, self.port)
        return conn

    def close(self) -> None:
        for conn in list(self.connections):
            conn.abort()
        self.idle.clear()


class LeanRequest:
    """The scheduler's launch for the lean path: ``await request(intended, i)``."""

    def __init__(self, client: LeanClient, *, url: str, method: str,
                 headers: tuple[tuple[str, str], ...], body: bytes | None, timeout: float,
                 expect_status: frozenset[int], traceparent: random.Random | None,
                 new_traceparent: Callable[[random.Random], str], clock: Clock,
                 recorder: StatsRecorder) -> None:
        self.client = client
        self.timeout = timeout
        self.expect = expect_status
        self.clock = clock
        self.recorder = recorder
        self.ids = traceparent
        self.new_traceparent = new_traceparent
        self.head, self.tail = _request_bytes(URL(url), method.upper(), headers, body)
        self.data = self.head + self.tail

    async def __call__(self, intended: float, i: int) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.timeout
        if self.ids is None:
            data = self.data
        else:
            tp = self.new_traceparent(self.ids)
            data = b"%straceparent: %s\r\n%s" % (self.head, tp.encode(), self.tail)
        conn = self.client.take_idle()
        if conn is None:
            try:
                async with asyncio.timeout_at(deadline):
                    conn = await self.client.connect()
            except TimeoutError:
                self._done(intended, Outcome.TIMED_OUT)
                return
            except OSError:
                self._done(intended, Outcome.FAILED)
                return
        waiter: asyncio.Future[int] = loop.create_future()
        conn.send(data, waiter)
        timer = loop.call_at(deadline, conn.expire, waiter)
        try:
            result = await waiter
        except asyncio.CancelledError:
            conn.abort()  # mid-response: the connection cannot be reused
            raise
        finally:
            timer.cancel()
        if result >= 0:
            self._done(intended, Outcome.OK if result in self.expect else Outcome.FAILED)
        else:
            timed_out = result == _TIMED_OUT
            self._done(intended, Outcome.TIMED_OUT if timed_out else Outcome.FAILED)

    def _done(self, intended: float, outcome: Outcome) -> None:
        self.recorder.on_done(intended, outcome, self.clock.now() - intended)


def _request_bytes(url: URL, method: str, headers: tuple[tuple[str, str], ...],
                   body: bytes | None) -> tuple[bytes, bytes]:
    """The request as bytes, split where a per-request traceparent header goes."""
    host = url.raw_host or ""
    if ":" in host:
        host = f"[{host}]"
    if url.explicit_port is not None:
        host = f"{host}:{url.explicit_port}"
    names = {n.lower() for n, _ in headers}
    lines = [f"{method} {url.raw_path_qs or '/'} HTTP/1.1"]
    if "host" not in names:
        lines.append(f"Host: {host}")
    lines += [f"{n}: {v}" for n, v in headers]
    if "accept" not in names:
        lines.append("Accept: */*")
    if "user-agent" not in names:
        lines.append("User-Agent: faultlab")
    if body is not None or method not in _BODYLESS_METHODS:
        lines.append(f"Content-Length: {len(body or b'')}")
    head = ("\r\n".join(lines) + "\r\n").encode("utf-8")
    return head, b"\r\n" + (body or b"")
