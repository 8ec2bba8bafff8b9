"""An incremental HTTP/1.1 request framer for the HTTP toxics (no I/O, no allocation of
more than one request head).

:meth:`RequestFramer.feed` cuts the client's byte stream into segments, each tagged with
the head of the request it starts (or None for the rest of a request). Invariants: the
concatenation of the segments is exactly the input (nothing is lost, added or reordered);
a head is reported once, only when complete (its bytes are held until then); framing
follows RFC 9112: ``Transfer-Encoding: chunked`` wins over ``Content-Length``, a request
with neither has no body. Anything the framer does not understand (a malformed or oversized
head, an upgrade, CONNECT) switches it to *opaque*: from then on every byte passes as a
continuation and no more heads are reported, so the toxics stop acting rather than guess.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

__all__ = ["MAX_HEAD", "RequestFramer", "RequestHead"]

MAX_HEAD = 64 * 1024


@dataclass(frozen=True, slots=True)
class RequestHead:
    method: str
    path: str


class _State(enum.Enum):
    HEAD = 1
    BODY = 2
    CHUNK_SIZE = 3
    CHUNK_DATA = 4
    TRAILER = 5
    OPAQUE = 6


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
    if target.startswith(("http://", "https://")):
        target = "/" + target.split("/", 3)[3] if target.count("/") >= 3 else "/"
    return RequestHead(method, target), length, chunked


class RequestFramer:
    def __init__(self) -> None:
        self._state = _State.HEAD
        self._buffer = bytearray()  # a head, or a chunk-size or trailer line, being read
        self._left = 0  # body or chunk bytes (with its CRLF) still to come
        self._opaque_next = False

    def feed(self, data: bytes) -> list[tuple[RequestHead | None, bytes]]:
        out: list[tuple[RequestHead | None, bytes]] = []
        pos = 0
        while pos < len(data):
            state = self._state
            if state is _State.OPAQUE:
                out.append((None, data[pos:]))
                break
            if state in (_State.BODY, _State.CHUNK_DATA):
                size = min(self._left, len(data) - pos)
                out.append((None, data[pos:pos + size]))
                pos += size
                self._left -= size
                if self._left == 0:
                    self._state = _State.CHUNK_SIZE if state is _State.CHUNK_DATA \
                        else self._after_request()
                continue
            if state is _State.HEAD:
                pos = self._feed_head(data, pos, out)
                continue
            end = data.find(b"\n", pos)
            line_end = len(data) if end < 0 else end + 1
            out.append((None, data[pos:line_end]))
            self._buffer += data[pos:line_end]
            pos = line_end
            if end >= 0:
                self._line_done()
            elif len(self._buffer) > MAX_HEAD:
                self._state = _State.OPAQUE
        return out

    def _feed_head(self, data: bytes, pos: int,
                   out: list[tuple[RequestHead | None, bytes]]) -> int:
        start = max(len(self._buffer) - 3, 0)
        self._buffer += data[pos:]
        end = self._buffer.find(b"\r\n\r\n", start)
        if end < 0:
            if len(self._buffer) > MAX_HEAD:
                self._state = _State.OPAQUE
                out.append((None, bytes(self._buffer)))
                self._buffer.clear()
            return len(data)
        head = bytes(self._buffer[:end + 4])
        consumed = len(data) - (len(self._buffer) - end - 4)
        self._buffer.clear()
        parsed = _parse_head(head)
        if parsed is None:
            self._state = _State.OPAQUE
            out.append((None, head))
            return consumed
        request, length, chunked = parsed
        out.append((request, head))
        self._opaque_next = length is None
        if chunked:
            self._state = _State.CHUNK_SIZE
        elif length:
            self._state, self._left = _State.BODY, length
        else:
            self._state = self._after_request()
        return consumed

    def _line_done(self) -> None:
        line = bytes(self._buffer).strip()
        self._buffer.clear()
        if self._state is _State.TRAILER:
            if not line:
                self._state = self._after_request()
            return
        size_text = line.split(b";", 1)[0].strip()
        try:
            size = int(size_text, 16)
        except ValueError:
            self._state = _State.OPAQUE
            return
        if size == 0:
            self._state = _State.TRAILER
        else:
            self._state, self._left = _State.CHUNK_DATA, size + 2

    def _after_request(self) -> _State:
        return _State.OPAQUE if self._opaque_next else _State.HEAD
