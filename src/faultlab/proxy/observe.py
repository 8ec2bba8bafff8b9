"""What reached the upstream, and when: one record per connection and per HTTP request.

A proxy created with ``"observe": true`` gives each connection a :class:`ConnectionObserver`,
which the relay feeds with the bytes as they *arrive* (from the client and from the
upstream, before any toxic), the replies toxics send in the proxy's name (http_abort),
the client's EOF and the connection's end. It frames both byte streams incrementally
(:mod:`faultlab.proxy.toxics.http_parser`), pairs each request with the response that
answers it, and hands finished records to the proxy's :class:`ObservationLog`, a bounded
ring read by ``GET /proxies/{name}/observations``. It does no I/O and keeps no reference
to the relay's buffers, so it is tested as a transcript.

Times are the relay's clock (``time.monotonic()``, seconds): ``start`` is when a request's
head was complete at the proxy, ``response`` when the head of its final (not 1xx) response
was complete, from the upstream or injected by a toxic; ``end`` is the response time, or
else when the request stopped waiting.

Invariants:

* Responses pair with requests in order (HTTP/1.1 answers in order, pipelined or not),
  except a reply injected by a toxic: it answers the request the toxic dropped, the first
  whose head starts where the bytes that passed the toxics end (the relay says how many
  passed); the requests before it still get the upstream's answers.
* A request ends exactly once: ``response`` (the upstream answered), ``injected`` (a toxic
  answered), or ``closed``: the client sent EOF first (an HTTP client that gives up
  closes its socket; one that half-closes and still reads is rare, and its late answers
  are not recorded), or the connection ended first (a reset, a toxic hanging up, the
  proxy stopping), with ``end`` that moment. Until then it is ``open``, and only listed
  by :meth:`ObservationLog.open_requests`.
* Bytes that are not HTTP/1.x (TLS, another protocol, a head over 64 KiB, an upgrade)
  stop request recording on that connection; its connection record is still written.
* Memory is bounded: one head per direction is buffered, and the log is a ring of
  ``capacity`` records whose overflow is counted in ``dropped``.
* A bug in the observer never reaches the relay: it stops recording on that connection and
  is counted in ``ObservationLog.errors``.
"""

from __future__ import annotations

import enum
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from itertools import islice
from typing import Any

from faultlab.proxy.toxics.http_parser import (
    RequestFramer,
    RequestHead,
    ResponseFramer,
    response_status,
)

__all__ = [
    "DEFAULT_CAPACITY",
    "ConnectionObservation",
    "ConnectionObserver",
    "ObservationLog",
    "Outcome",
    "Record",
    "RequestObservation",
    "record_from_json",
]

DEFAULT_CAPACITY = 100_000


class Outcome(enum.StrEnum):
    """How a request ended; the members are the strings in ``RequestObservation.outcome``."""

    RESPONSE = "response"  # the upstream answered
    INJECTED = "injected"  # a toxic answered in the proxy's name (http_abort)
    CLOSED = "closed"  # the client gave up, a reset, a toxic hung up: no response
    OPEN = "open"  # still waiting


@dataclass(frozen=True, slots=True)
class RequestObservation:
    proxy: str
    conn: int  # the connection's number in its proxy, from 1
    seq: int  # the request's index within its connection, from 0
    method: str
    path: str
    trace_id: str | None  # of a valid W3C traceparent header, 32 lower-case hex digits
    request_id: str | None  # X-Request-Id, at most 128 characters
    start: float  # the request head was complete at the proxy (relay clock, seconds)
    response: float | None  # a final response head was complete (upstream or injected)
    status: int | None
    end: float | None  # = response if any; else when it stopped waiting; None while open
    outcome: str  # an Outcome

    def to_json(self) -> dict[str, Any]:
        return {"type": "request", "proxy": self.proxy, "conn": self.conn, "seq": self.seq,
                "method": self.method, "path": self.path, "trace_id": self.trace_id,
                "request_id": self.request_id, "start": self.start,
                "response": self.response, "status": self.status, "end": self.end,
                "outcome": str(self.outcome)}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> RequestObservation:
        if data.get("type") != "request":
            raise ValueError(f"not a request record: type {data.get('type')!r}")
        return cls(str(data["proxy"]), int(data["conn"]), int(data["seq"]),
                   str(data["method"]), str(data["path"]), _text(data["trace_id"]),
                   _text(data["request_id"]), float(data["start"]),
                   _number(data["response"]), _int(data["status"]), _number(data["end"]),
                   Outcome(data["outcome"]).value)


@dataclass(frozen=True, slots=True)
class ConnectionObservation:
    proxy: str
    conn: int
    client: str  # host:port of the client ([v6]:port)
    opened: float  # accepted (relay clock, seconds)
    closed: float | None  # ended; None while open (never in the log)
    reason: str | None  # the relay's CloseReason value
    bytes_up: int  # delivered to the upstream (after toxics)
    bytes_down: int  # delivered to the client (after toxics)
    requests: int  # request heads seen

    def to_json(self) -> dict[str, Any]:
        return {"type": "connection", "proxy": self.proxy, "conn": self.conn,
                "client": self.client, "opened": self.opened, "closed": self.closed,
                "reason": self.reason, "bytes_up": self.bytes_up,
                "bytes_down": self.bytes_down, "requests": self.requests}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ConnectionObservation:
        if data.get("type") != "connection":
            raise ValueError(f"not a connection record: type {data.get('type')!r}")
        return cls(str(data["proxy"]), int(data["conn"]), str(data["client"]),
                   float(data["opened"]), _number(data["closed"]), _text(data["reason"]),
                   int(data["bytes_up"]), int(data["bytes_down"]), int(data["requests"]))


Record = RequestObservation | ConnectionObservation


def record_from_json(data: dict[str, Any]) -> Record:
    """A record from its JSON (the ``type`` key says which); ValueError if neither."""
    if data.get("type") == "connection":
        return ConnectionObservation.from_json(data)
    return RequestObservation.from_json(data)


def _text(value: object) -> str | None:
    return None if value is None else str(value)


def _number(value: object) -> float | None:
    return None if value is None else float(value)  # type: ignore[arg-type]


def _int(value: object) -> int | None:
    return None if value is None else int(value)  # type: ignore[call-overload]


class _Pending:
    """A request waiting for its answer."""

    __slots__ = ("head", "offset", "seq", "start")

    def __init__(self, seq: int, head: RequestHead, start: float, offset: int) -> None:
        self.seq = seq
        self.head = head
        self.start = start
        self.offset = offset  # where its head starts in the client's byte stream

    def record(self, proxy: str, conn: int, outcome: Outcome, end: float | None,
               status: int | None = None) -> RequestObservation:
        response = end if outcome in (Outcome.RESPONSE, Outcome.INJECTED) else None
        head = self.head
        return RequestObservation(proxy, conn, self.seq, head.method, head.path, head.trace_id,
                                  head.request_id, self.start, response, status, end,
                                  outcome.value)


class ObservationLog:
    """One proxy's finished records, numbered from 0 in the order they finished, in a ring
    of ``capacity``; plus the live observers, for :meth:`open_requests`."""

    def __init__(self, proxy: str, capacity: int = DEFAULT_CAPACITY) -> None:
        if capacity < 1:
            raise ValueError("the observation log needs a capacity of at least 1")
        self.proxy = proxy
        self._ring: deque[tuple[int, Record]] = deque(maxlen=capacity)
        self._next = 0
        self.dropped = 0  # records pushed out of the ring before anyone could read them
        self.errors = 0  # observers stopped by a bug of their own
        self._live: dict[int, ConnectionObserver] = {}

    @property
    def capacity(self) -> int:
        maxlen = self._ring.maxlen
        assert maxlen is not None
        return maxlen

    @capacity.setter
    def capacity(self, capacity: int) -> None:
        if capacity < 1:
            raise ValueError("the observation log needs a capacity of at least 1")
        self.dropped += max(len(self._ring) - capacity, 0)
        self._ring = deque(self._ring, maxlen=capacity)

    @property
    def next(self) -> int:
        """The number the next record will get."""
        return self._next

    def append(self, record: Record) -> int:
        number = self._next
        self._next += 1
        if len(self._ring) == self.capacity:
            self.dropped += 1
        self._ring.append((number, record))
        return number

    def records(self, since: int = 0, limit: int = 10_000
                ) -> tuple[list[tuple[int, Record]], int, int]:
        """(up to ``limit`` records numbered ``since`` or later, the ``since`` to ask next,
        ``dropped``). Records pushed out of the ring are skipped: a reader that sees the
        first number above its ``since`` lost the ones in between. A ``since`` beyond the
        last record gives none and ``next`` the number the next record will get."""
        if not self._ring or since >= self._next:
            return [], min(since, self._next), self.dropped
        first = self._ring[0][0]
        skip = max(since - first, 0)
        page = list(islice(self._ring, skip, skip + max(limit, 0)))
        following = page[-1][0] + 1 if page else max(since, first)
        return page, following, self.dropped

    def open_requests(self) -> list[RequestObservation]:
        """Requests still waiting, on the live connections, by connection and order."""
        return [request for conn in sorted(self._live)
                for request in self._live[conn].open_requests()]

    def attach(self, observer: ConnectionObserver) -> None:
        self._live[observer.conn] = observer

    def detach(self, observer: ConnectionObserver) -> None:
        if self._live.get(observer.conn) is observer:
            del self._live[observer.conn]


class ConnectionObserver:
    """One connection's framers and waiting requests; see the module docstring.

    The relay calls :meth:`client_bytes` and :meth:`upstream_bytes` with every chunk as it
    arrives (a memoryview of its receive buffer is fine: nothing of it is kept),
    :meth:`injected_reply` for a toxic's reply to the client, :meth:`client_eof` and, once,
    :meth:`closed`.
    """

    __slots__ = ("_count", "_done", "_log", "_pairing", "_pending", "_recording",
                 "_requests", "_responses", "client", "conn", "opened", "traced")

    def __init__(self, log: ObservationLog, conn: int, client: str, opened: float) -> None:
        self._log = log
        self.conn = conn
        self.client = client
        self.opened = opened
        self._requests = RequestFramer()
        self._responses = ResponseFramer()
        self._pending: deque[_Pending] = deque()
        self._count = 0
        self._recording = True  # False once the client's bytes are not HTTP/1.x
        self._pairing = True  # False once the connection ended (or after a bug)
        self._done = False
        # Called with each finished request that carried a valid traceparent (the proxy
        # server's tracer, faultlab.telemetry.proxy, when OTEL_* is set).
        self.traced: Callable[[RequestHead, RequestObservation], None] | None = None
        log.attach(self)

    def client_bytes(self, data: bytes | memoryview, at: float) -> None:
        if not self._recording:
            return
        try:
            for offset, head in self._requests.heads(data):
                self._pending.append(_Pending(self._count, head, at, offset))
                self._responses.expect(head.method)
                self._count += 1
            if self._requests.opaque:
                self._recording = False
        except Exception:  # a bug: stop recording here, never break the connection
            self._failed()

    def upstream_bytes(self, data: bytes | memoryview, at: float) -> None:
        if not self._pairing or self._responses.opaque:
            return
        try:
            for status in self._responses.feed(data):
                if self._pending:
                    self._finish(self._pending.popleft(), Outcome.RESPONSE, at, status)
        except Exception:
            self._failed()

    def injected_reply(self, data: bytes, at: float, passed: int | None = None) -> None:
        """A toxic answered the client with ``data``; ``passed`` client bytes had gone
        through the toxics before it (so the answered request starts there)."""
        if not self._pairing or not self._pending:
            return
        index = len(self._pending) - 1
        if passed is None:
            index = 0
        else:
            index = next((i for i, p in enumerate(self._pending) if p.offset >= passed),
                         index)
        request = self._pending[index]
        del self._pending[index]
        self._responses.forget(index)
        self._finish(request, Outcome.INJECTED, at, response_status(data))

    def client_eof(self, at: float) -> None:
        """The client will send no more: the requests still waiting were given up."""
        self._close_pending(at)

    def closed(self, at: float, reason: str, bytes_up: int, bytes_down: int) -> None:
        """The connection ended (its last call): waiting requests end ``closed``."""
        if self._done:
            return
        self._close_pending(at)
        self._done = True
        self._recording = self._pairing = False
        self._log.append(ConnectionObservation(self._log.proxy, self.conn, self.client,
                                               self.opened, at, reason, bytes_up,
                                               bytes_down, self._count))
        self._log.detach(self)

    def open_requests(self) -> list[RequestObservation]:
        return [p.record(self._log.proxy, self.conn, Outcome.OPEN, None)
                for p in self._pending]

    def _close_pending(self, at: float) -> None:
        while self._pending:
            self._finish(self._pending.popleft(), Outcome.CLOSED, at)

    def _finish(self, request: _Pending, outcome: Outcome, at: float,
                status: int | None = None) -> None:
        record = request.record(self._log.proxy, self.conn, outcome, at, status)
        self._log.append(record)
        if self.traced is not None and request.head.traceparent is not None:
            self.traced(request.head, record)

    def _failed(self) -> None:
        self._recording = self._pairing = False
        self._log.errors += 1
