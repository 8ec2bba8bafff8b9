"""Incremental HTTP/1.1 framers for the HTTP toxics and the observer (no I/O, no allocation
of more than one message head).

:meth:`RequestFramer.feed` cuts the client's byte stream into segments, each tagged with
the head of the request it starts (or None for the rest of a request). Invariants: the
concatenation of the segments is exactly the input (nothing is lost, added or reordered);
a head is reported once, only when complete (its bytes are held until then); framing
follows RFC 9112: ``Transfer-Encoding: chunked`` wins over ``Content-Length``, a request
with neither has no body. Anything the framer does not understand (a malformed or oversized
head, an upgrade, CONNECT) switches it to *opaque*: from then on every byte passes as a
continuation and no more heads are reported, so the toxics stop acting rather than guess.
:meth:`RequestFramer.heads` runs the same state machine but reports only the heads (with
the stream offset where each starts) and takes a ``memoryview``: body bytes are counted,
never copied, so the observer can read from the relay's receive buffer.

:class:`ResponseFramer` does the same for the server's byte stream and reports the status
of each final response (1xx are skipped), told the request methods in order so that a
response to HEAD has no body (RFC 9112 6.3: nor have 204 and 304; a body with neither
length nor chunking runs until the connection closes, as after a 101 or anything not
understood: the rest of the stream is then one opaque tail).
"""

from __future__ import annotations

import enum
from collections import deque
from dataclasses import dataclass
from typing import cast

__all__ = ["MAX_HEAD", "RequestFramer", "RequestHead", "ResponseFramer", "parse_traceparent",
           "response_status"]

MAX_HEAD = 64 * 1024
MAX_REQUEST_ID = 128
_HEX = frozenset("0123456789abcdef")


@dataclass(frozen=True, slots=True)
class RequestHead:
    method: str
    path: str
    trace_id: str | None = None  # of a valid W3C traceparent header, lower-case
    request_id: str | None = None  # X-Request-Id, at most MAX_REQUEST_ID characters
    traceparent: str | None = None  # that valid header's value (the caller's span id)


class _State(enum.Enum):
    HEAD = 1
    BODY = 2
    CHUNK_SIZE = 3
    CHUNK_DATA = 4
    TRAILER = 5
    OPAQUE = 6  # requests: not understood; responses: a body until close, or not HTTP


_COUNTING = (_State.BODY, _State.CHUNK_DATA, _State.OPAQUE)


def parse_traceparent(value: str) -> str | None:
    """The trace id of a W3C Trace Context ``traceparent`` value, or None if invalid.

    ``version-traceid-parentid-flags``, 2/32/16/2 hex digits; version ``ff`` and all-zero
    ids are invalid; a later version may append fields after the flags (``-``-separated).
    Hex digits are accepted in either case and the id is reported in lower case.
    """
    value = value.strip().lower()
    if len(value) < 55 or (len(value) > 55 and (value[:2] == "00" or value[55] != "-")):
        return None
    version, trace_id, parent_id, flags = value[:2], value[3:35], value[36:52], value[53:55]
    if value[2] != "-" or value[35] != "-" or value[52] != "-" or version == "ff":
        return None
    if not _HEX.issuperset(version + trace_id + parent_id + flags):
        return None
    if trace_id == "0" * 32 or parent_id == "0" * 16:
        return None
    return trace_id


def _parse_head(head: bytes) -> tuple[RequestHead, int | None, bool] | None:
    """(head, content length, chunked); None when it is not an HTTP/1.x request head."""
    try:
        lines = head.decode("latin-1").split("\r\n")
        method, target, version = lines[0].split(" ")
    except ValueError:
        return None
    if not version.startswith("HTTP/1.") or not method.isalpha() or method == "CONNECT":
        return None
    length: int | None = 0
    chunked = False
    traceparents: list[str] = []
    request_id: str | None = None
    for line in lines[1:]:
        name, colon, value = line.partition(":")
        if not colon:
            continue
        name, value = name.strip().lower(), value.strip()
        if name == "content-length":
            if not value.isdigit():
                return None
            length = int(value)
        elif name == "transfer-encoding":
            chunked = value.lower().rsplit(",", 1)[-1].strip() == "chunked"
        elif name == "upgrade":
            length = None  # the connection becomes something else after this request
        elif name == "traceparent":
            traceparents.append(value)
        elif name == "x-request-id" and request_id is None:
            request_id = value[:MAX_REQUEST_ID] or None
    if target.startswith(("http://", "https://")):
        target = "/" + target.split("/", 3)[3] if target.count("/") >= 3 else "/"
    # Two traceparent headers are one invalid value (their combination), as the spec says.
    trace_id = parse_traceparent(traceparents[0]) if len(traceparents) == 1 else None
    return (RequestHead(method, target, trace_id, request_id,
                        traceparents[0] if trace_id is not None else None), length, chunked)


class _Framer:
    """What both framers share: bodies by length, chunked bodies, the opaque tail.

    A subclass reads heads in :meth:`_feed_head` and says what follows a message in
    :meth:`_message_done`; ``_fed`` is the stream offset of the current input's start.
    """

    def __init__(self) -> None:
        self._state = _State.HEAD
        self._buffer = bytearray()  # a head, or a chunk-size or trailer line, being read
        self._left = 0  # body or chunk bytes (with its CRLF) still to come
        self._fed = 0
        self._head_start = 0  # stream offset of the head being read

    @property
    def opaque(self) -> bool:
        return self._state is _State.OPAQUE

    def _feed_head(self, data: bytes, pos: int) -> tuple[int, object, bytes]:
        raise NotImplementedError

    def _take_head(self, data: bytes, pos: int) -> tuple[int, bytes | None]:
        """(bytes of ``data`` consumed, the complete head or None). A head growing past
        MAX_HEAD turns the framer opaque and is handed back as it is."""
        start = max(len(self._buffer) - 3, 0)
        self._buffer += data[pos:]
        end = self._buffer.find(b"\r\n\r\n", start)
        if end < 0 and len(self._buffer) <= MAX_HEAD:
            return len(data), None
        if end < 0 or end + 4 > MAX_HEAD:  # however it arrived, whole or in pieces
            self._state = _State.OPAQUE
            end = len(self._buffer) - 4
        head = bytes(self._buffer[:end + 4])
        consumed = len(data) - (len(self._buffer) - end - 4)
        self._buffer.clear()
        return consumed, head

    def _message_done(self) -> _State:
        raise NotImplementedError

    def _advance(self, data: bytes | memoryview, pos: int
                 ) -> tuple[int, object, bytes | None]:
        """One step from ``pos``: (where it ended, the head it completed or None, the bytes
        of the segment if not ``data[pos:end]``: the released head, or b"" for none)."""
        state = self._state
        if state is _State.OPAQUE:
            return len(data), None, None
        if state in (_State.BODY, _State.CHUNK_DATA):
            size = min(self._left, len(data) - pos)
            self._left -= size
            if self._left == 0:
                self._state = _State.CHUNK_SIZE if state is _State.CHUNK_DATA \
                    else self._message_done()
            return pos + size, None, None
        text = cast(bytes, data)  # a memoryview is passed only to the counting states
        if state is _State.HEAD:
            if not self._buffer:
                self._head_start = self._fed + pos
            return self._feed_head(text, pos)
        end = text.find(b"\n", pos)
        line_end = len(text) if end < 0 else end + 1
        self._buffer += text[pos:line_end]
        if end >= 0:
            self._line_done()
        elif len(self._buffer) > MAX_HEAD:
            self._state = _State.OPAQUE
        return line_end, None, None

    def _heads(self, data: bytes | memoryview) -> list[tuple[int, object]]:
        """The heads completed by ``data`` with their stream offsets; body bytes of a
        memoryview are counted, never copied."""
        found: list[tuple[int, object]] = []
        pos = 0
        while pos < len(data) and self._state is not _State.OPAQUE:
            if isinstance(data, memoryview) and self._state not in _COUNTING:
                # Searching needs bytes: copy from here on.
                self._fed += pos
                data, pos = bytes(data[pos:]), 0
            end, head, _ = self._advance(data, pos)
            if head is not None:
                found.append((self._head_start, head))
            pos = end
        self._fed += len(data)
        return found

    def _line_done(self) -> None:
        line = bytes(self._buffer).strip()
        self._buffer.clear()
        if self._state is _State.TRAILER:
            if not line:
                self._state = self._message_done()
            return
        size_text = line.split(b";", 1)[0].strip()
        try:
            size = int(size_text, 16)
        except ValueError:
            self._state = _State.OPAQUE
            return
        if size < 0:
            self._state = _State.OPAQUE
        elif size == 0:
            self._state = _State.TRAILER
        else:
            self._state, self._left = _State.CHUNK_DATA, size + 2

    def _body(self, length: int | None, chunked: bool) -> None:
        """Enter the body of the message whose head was just read (None: until close)."""
        if chunked:
            self._state = _State.CHUNK_SIZE
        elif length is None:
            self._state = _State.OPAQUE
        elif length:
            self._state, self._left = _State.BODY, length
        else:
            self._state = self._message_done()


class RequestFramer(_Framer):
    def __init__(self) -> None:
        super().__init__()
        self._opaque_next = False

    def feed(self, data: bytes) -> list[tuple[RequestHead | None, bytes]]:
        out: list[tuple[RequestHead | None, bytes]] = []
        pos = 0
        while pos < len(data):
            end, head, released = self._advance(data, pos)
            assert head is None or isinstance(head, RequestHead)
            if released is None:
                out.append((head, data[pos:end]))
            elif released:
                out.append((head, released))
            pos = end
        self._fed += len(data)
        return out

    def heads(self, data: bytes | memoryview) -> list[tuple[int, RequestHead]]:
        """The heads completed by ``data``, each with the stream offset where it starts."""
        return cast(list[tuple[int, RequestHead]], self._heads(data))

    def _feed_head(self, data: bytes, pos: int) -> tuple[int, object, bytes]:
        consumed, raw = self._take_head(data, pos)
        if raw is None or self._state is _State.OPAQUE:
            return consumed, None, raw or b""
        parsed = _parse_head(raw)
        if parsed is None:
            self._state = _State.OPAQUE
            return consumed, None, raw
        request, length, chunked = parsed
        self._opaque_next = length is None
        self._body(length or 0, chunked)
        return consumed, request, raw

    def _message_done(self) -> _State:
        return _State.OPAQUE if self._opaque_next else _State.HEAD


def response_status(head: bytes) -> int | None:
    """The status code of an HTTP/1.x status line at the start of ``head``."""
    line = bytes(head[:head.find(b"\r\n")] if b"\r\n" in head else head[:256])
    version, _, rest = line.partition(b" ")
    code = rest[:3]
    if not version.startswith(b"HTTP/1.") or len(code) != 3 or not code.isdigit() \
            or rest[3:4] not in (b"", b" "):
        return None
    return int(code)


def _response_framing(raw: bytes, head_request: bool) -> tuple[int, int | None, bool] | None:
    """(status, body length or None for until close, chunked); None if not HTTP/1.x."""
    status = response_status(raw)
    if status is None or status < 100:
        return None
    if head_request or status < 200 or status in (204, 304):
        return status, 0, False
    length: int | None = None
    chunked = False
    encoded = False
    for line in raw.decode("latin-1").split("\r\n")[1:]:
        name, colon, value = line.partition(":")
        if not colon:
            continue
        name, value = name.strip().lower(), value.strip()
        if name == "content-length":
            values = {v.strip() for v in value.split(",")}
            if len(values) != 1 or not (text := values.pop()).isdigit():
                return None
            if length is not None and length != int(text):
                return None
            length = int(text)
        elif name == "transfer-encoding":
            encoded = True
            chunked = value.lower().rsplit(",", 1)[-1].strip() == "chunked"
    if encoded:  # Transfer-Encoding wins; not ending in chunked: until close (RFC 9112 6.3)
        return status, None, chunked
    return status, length, False


class ResponseFramer(_Framer):
    """Frames the server's byte stream; :meth:`feed` returns the final statuses in order.

    :meth:`expect` is called with each request's method as its head is seen, in order;
    one is used up by each final response (responses pair with requests in order).
    """

    def __init__(self) -> None:
        super().__init__()
        self._methods: deque[str] = deque()

    def expect(self, method: str) -> None:
        self._methods.append(method)

    def forget(self, index: int) -> None:
        """A request answered by someone else (the proxy): no response will come for it."""
        if 0 <= index < len(self._methods):
            del self._methods[index]

    def feed(self, data: bytes | memoryview) -> list[int]:
        return cast(list[int], [status for _, status in self._heads(data)])

    def _feed_head(self, data: bytes, pos: int) -> tuple[int, object, bytes]:
        consumed, raw = self._take_head(data, pos)
        if raw is None or self._state is _State.OPAQUE:
            return consumed, None, b""
        method = self._methods[0] if self._methods else None
        framing = _response_framing(raw, method == "HEAD")
        if framing is None:
            self._state = _State.OPAQUE
            return consumed, None, b""
        status, length, chunked = framing
        if status < 200:
            # Informational: the final response is still to come (a 101 ends HTTP here).
            self._state = _State.OPAQUE if status == 101 else _State.HEAD
            return consumed, None, b""
        if self._methods:
            self._methods.popleft()
        self._body(length, chunked)
        return consumed, status, b""

    def _message_done(self) -> _State:
        return _State.HEAD
