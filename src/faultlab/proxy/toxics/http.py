"""HTTP/1.1 toxics (faultlab's own): answer matching requests with an error, or delay them.

Both sit on the ``upstream`` stream, where the requests are, and frame the byte stream
into requests with :class:`~faultlab.proxy.toxics.http_parser.RequestFramer`. A request
*matches* when ``method`` is empty or equal to its method and its path starts with
``path_prefix`` (empty matches every path). Requests that do not match pass untouched,
behind any held before them.
"""

from __future__ import annotations

import http
import math
import random
from collections import deque
from dataclasses import dataclass

from faultlab.proxy.toxics.core import (
    DAY_MS,
    Attributes,
    Close,
    Command,
    Deliver,
    Drop,
    HoldingToxic,
    Reply,
    Toxic,
    int_attribute,
    text_attribute,
)
from faultlab.proxy.toxics.http_parser import RequestFramer, RequestHead

__all__ = ["HttpAbortAttributes", "HttpAbortToxic", "HttpDelayAttributes", "HttpDelayToxic"]


def _matches(head: RequestHead, method: str, path_prefix: str) -> bool:
    return (not method or head.method == method) and head.path.startswith(path_prefix)


@dataclass(frozen=True, slots=True)
class HttpAbortAttributes(Attributes):
    status: int = int_attribute(599, "(an HTTP status)", default=503, minimum=100)
    method: str = text_attribute(32)
    path_prefix: str = text_attribute(2048)
    percent: int = int_attribute(100, "percent", default=100, minimum=1)


def abort_response(status: int) -> bytes:
    try:
        reason = http.HTTPStatus(status).phrase
    except ValueError:
        reason = "Injected Fault"
    body = f"faultlab proxy: injected {status}\n".encode()
    head = (f"HTTP/1.1 {status} {reason}\r\nContent-Type: text/plain\r\n"
            f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n")
    return head.encode() + body


class HttpAbortToxic(Toxic[HttpAbortAttributes]):
    """Answers a matching request with ``status`` and closes the connection.

    Each matching request is answered with probability ``percent``/100, drawn from this
    connection's own generator when its head is complete (no draw at 100, where the first
    matching request is answered, as before ``percent`` existed). A request not drawn passes
    unchanged, body included, and the toxic goes on judging the connection's later requests:
    the share of *requests* answered stays ``percent`` on keep-alive connections, where
    ``toxicity`` (drawn once per connection) would leave most requests alone.

    Invariants: requests before the answered one reach the server unchanged; not one byte
    of the answered request or of anything after it does (they are dropped). The answer
    goes to the client (a :class:`Reply`: the response, then a FIN) and the server's side
    gets a FIN, so the connection ends cleanly once both sides close.
    """

    def __init__(self, attributes: HttpAbortAttributes, started_at: float,
                 rng: random.Random) -> None:
        super().__init__(attributes, started_at, rng)
        self._framer = RequestFramer()
        self._aborted = False
        self._pending = 0  # bytes given to the framer that it has not cut into segments yet

    def on_chunk(self, data: bytes, at: float) -> list[Command]:
        if self._aborted:
            return [Drop(len(data), at)]
        out: list[Command] = []
        pending = self._pending + len(data)
        for head, segment in self._framer.feed(data):
            attrs = self.attributes
            if head is not None and _matches(head, attrs.method, attrs.path_prefix) \
                    and self._drawn(attrs.percent):
                self._aborted = True
                # Everything not delivered, a part head the framer still holds included.
                return [*out, Drop(pending, at), Reply(abort_response(attrs.status), at),
                        Close(at)]
            out.append(Deliver(segment, at))
            pending -= len(segment)
        self._pending = pending
        return out

    def _drawn(self, percent: int) -> bool:
        return percent >= 100 or self.rng.randrange(100) < percent

    def on_eof(self, at: float) -> list[Command]:
        if self._aborted:
            return []
        return [Drop(self._pending, at), Close(at)] if self._pending else [Close(at)]


@dataclass(frozen=True, slots=True)
class HttpDelayAttributes(Attributes):
    delay: int = int_attribute(DAY_MS, "ms")
    method: str = text_attribute(32)
    path_prefix: str = text_attribute(2048)


class HttpDelayToxic(HoldingToxic[HttpDelayAttributes]):
    """Holds each matching request for ``delay`` ms from when its head was complete.

    Invariants: bytes keep their order (a segment is due at ``max(its own due time, the
    previous segment's)``, so a request that does not match waits behind a delayed one, as
    it would on the wire); the body of a matching request is held with its head; a head is
    held until it is complete (the server could not act on part of it anyway). EOF is due
    with the last byte. Removal hands everything back at once.
    """

    def __init__(self, attributes: HttpDelayAttributes, started_at: float,
                 rng: random.Random) -> None:
        super().__init__(attributes, started_at, rng)
        self._framer = RequestFramer()
        self._matching = False
        self._held: deque[tuple[float, bytes | None]] = deque()  # (due, data or EOF)
        self._last_due = -math.inf
        self._request_due = -math.inf

    def on_chunk(self, data: bytes, at: float) -> list[Command]:
        for head, segment in self._framer.feed(data):
            if head is not None:
                attrs = self.attributes
                self._matching = _matches(head, attrs.method, attrs.path_prefix)
                self._request_due = at + attrs.delay / 1000.0 if self._matching else at
            due = max(self._request_due if self._matching else at, at, self._last_due)
            self._last_due = due
            self._held.append((due, segment))
            self._held_bytes += len(segment)
        return self.on_tick(at)

    def on_eof(self, at: float) -> list[Command]:
        self._last_due = max(at, self._last_due)
        self._held.append((self._last_due, None))
        return self.on_tick(at)

    def deadline(self) -> float | None:
        return self._held[0][0] if self._held else None

    def on_tick(self, now: float) -> list[Command]:
        out: list[Command] = []
        while self._held and self._held[0][0] <= now:
            due, data = self._held.popleft()
            out.append(self._release(data, due))
        return out

    def on_remove(self, now: float) -> list[Command]:
        out = [self._release(data, now) for _, data in self._held]
        self._held.clear()
        return out
