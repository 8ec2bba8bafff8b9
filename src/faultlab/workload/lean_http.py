"""The lean HTTP/1.1 client of the open-loop load: one asyncio Protocol per keep-alive
connection, responses parsed by httptools (llhttp, in C), no per-request object but a timer:
on a warm connection a request is sent straight from the scheduler's loop and reported from
the protocol's callbacks, with no task, future or coroutine.

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

_FAILED, _TIMED_OUT = -1, -2  # a request's result when there is no status
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


#: how a request tells whoever launched it that it was reported: ``done(None)``, or
#: ``done(error)`` when reporting it raised (a bug: the load fails with it)
Done = Callable[[BaseException | None], None]


def _no_done(error: BaseException | None) -> None:
    pass


class _Connection(asyncio.Protocol):
    """One keep-alive connection; ``req`` is the request outstanding on it, if any, sent at
    ``intended`` and reported through ``done``; ``timer`` is its timeout."""

    def __init__(self, client: LeanClient) -> None:
        self.client = client
        self.parser = httptools.HttpResponseParser(self)
        self.transport: asyncio.Transport | None = None
        self.req: LeanRequest | None = None
        self.intended = 0.0
        self.done: Done = _no_done
        self.timer: asyncio.TimerHandle | None = None
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
        if self.req is None:  # nothing asked for: not a server this client understands
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
        # A body without Content-Length or chunking ends at the close; anything else cut off
        # by the close is a failed request.
        complete = exc is None and self.headers_done and not self.framed
        self._complete(self.status if complete else _FAILED)

    # -- httptools callbacks

    def on_message_begin(self) -> None:
        if self.req is None:  # a second response to one request
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

    def send(self, req: LeanRequest, data: bytes, intended: float, done: Done,
             deadline: float) -> None:
        """Send one request; its outcome goes to ``req.report`` (then ``done``) exactly once,
        unless the connection is aborted first (a cancelled request: nothing reported)."""
        self.req, self.intended, self.done = req, intended, done
        if self.closed or self.transport is None:
            self._complete(_FAILED)
            return
        self.timer = req.loop.call_at(deadline, self.expire)
        self.transport.write(data)

    def expire(self) -> None:
        """The request's timeout: it is timed out and the connection closed, now."""
        self.timer = None
        self._complete(_TIMED_OUT)
        self.abort()

    def abort(self) -> None:
        """Close now; a request outstanding is dropped unreported (it was cancelled)."""
        self.closed = True
        self.req = None
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        if self.transport is not None:
            self.transport.abort()

    def _complete(self, result: int) -> None:
        req = self.req
        if req is None:
            return
        self.req = None
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        req.report(self.intended, result, self.done)

    def _finish(self, result: int, *, keep_alive: bool) -> None:
        self._complete(result)
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
        """Close every connection; the requests on them are dropped unreported."""
        for conn in list(self.connections):
            conn.abort()
        self.idle.clear()


class LeanRequest:
    """The scheduler's launch for the lean path.

    Two ways in, one request: :meth:`now` (the scheduler's
    :data:`~faultlab.workload.openloop.LaunchNow`) sends on an idle connection at once, with
    no task, future or coroutine, and the response's protocol callbacks report it; when no
    connection is idle the scheduler runs ``await request(intended, i)`` as a task instead,
    which connects first. Either way the timeout is a timer at ``send + timeout`` (the
    connect included) and the outcome is reported once, from the protocol's callbacks."""

    def __init__(self, client: LeanClient, *, url: str, method: str,
                 headers: tuple[tuple[str, str], ...], body: bytes | None, timeout: float,
                 expect_status: frozenset[int], traceparent: random.Random | None,
                 new_traceparent: Callable[[random.Random], str], clock: Clock,
                 recorder: StatsRecorder, loop: asyncio.AbstractEventLoop | None = None
                 ) -> None:
        self.client = client
        self.timeout = timeout
        self.expect = expect_status
        self.clock = clock
        self.recorder = recorder
        self.ids = traceparent
        self.new_traceparent = new_traceparent
        self.loop = loop or asyncio.get_running_loop()
        self.head, self.tail = _request_bytes(URL(url), method.upper(), headers, body)
        self.data = self.head + self.tail

    def _data(self) -> bytes:
        if self.ids is None:
            return self.data
        tp = self.new_traceparent(self.ids)
        return b"%straceparent: %s\r\n%s" % (self.head, tp.encode(), self.tail)

    def now(self, intended: float, i: int, done: Done) -> bool:
        """Send on an idle connection, now; False (nothing done) when none is idle."""
        conn = self.client.take_idle()
        if conn is None:
            return False
        conn.send(self, self._data(), intended, done, self.loop.time() + self.timeout)
        return True

    async def __call__(self, intended: float, i: int) -> None:
        loop = self.loop
        deadline = loop.time() + self.timeout
        data = self._data()
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
        reported: asyncio.Future[None] = loop.create_future()

        def done(error: BaseException | None) -> None:
            if not reported.done():
                if error is None:
                    reported.set_result(None)
                else:
                    reported.set_exception(error)

        conn.send(self, data, intended, done, deadline)
        try:
            await reported
        except asyncio.CancelledError:
            if not reported.done():
                conn.abort()  # mid-response: the connection cannot be reused
            raise

    def report(self, intended: float, result: int, done: Done) -> None:
        """The outcome of a request sent at ``intended`` (a status, or _FAILED/_TIMED_OUT)."""
        if result >= 0:
            outcome = Outcome.OK if result in self.expect else Outcome.FAILED
        else:
            outcome = Outcome.TIMED_OUT if result == _TIMED_OUT else Outcome.FAILED
        try:
            self._done(intended, outcome)
        except BaseException as e:  # a bug in the recorder: the load fails with it
            done(e)
            return
        done(None)

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
