"""A small EDN reader and writer: the subset Jepsen writes in ``history.edn``.

Supported: maps, vectors, lists, sets, keywords, symbols, strings (with ``\\n``-style and
``\\uXXXX`` escapes), characters, integers (``N`` suffix), floats (``M`` suffix), ``nil``,
``true``/``false``, comments (``;``), discards (``#_``) and tagged literals (``#inst "..."``,
``#jepsen.history.Op{...}``), whose tag is dropped and whose value is kept. Commas are
whitespace. Vectors and lists both read as tuples.

The reader raises only :class:`EdnSyntaxError` (with line and column), never anything else,
whatever the input: nesting is capped at :data:`MAX_DEPTH` so deep input cannot exhaust the
Python stack. :func:`iter_forms` reads lazily from a stream of chunks, so a history can be
checked form by form while its file is still being read.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import TypeAlias

__all__ = ["MAX_DEPTH", "EdnSyntaxError", "EdnValue", "Keyword", "Symbol", "dumps", "iter_forms",
           "loads_all", "read_one"]

MAX_DEPTH = 200


@dataclass(frozen=True, slots=True)
class Keyword:
    name: str  # without the colon

    def __str__(self) -> str:
        return ":" + self.name


@dataclass(frozen=True, slots=True)
class Symbol:
    name: str

    def __str__(self) -> str:
        return self.name


EdnValue: TypeAlias = (
    "bool | int | float | str | Keyword | Symbol | tuple[EdnValue, ...]"
    " | frozenset[EdnValue] | dict[EdnValue, EdnValue] | None"
)


class EdnSyntaxError(ValueError):
    def __init__(self, message: str, line: int, column: int, hint: str = "") -> None:
        super().__init__(f"{line}:{column}: {message}")
        self.message, self.line, self.column, self.hint = message, line, column, hint


_TOKEN = re.compile(r"""
    (?P<ws>(?:[\s,]+|;[^\n]*)+)
  | (?P<str>"(?:[^"\\]|\\.)*")
  | (?P<open>\#\{|[\[({])
  | (?P<close>[\])}])
  | (?P<discard>\#_)
  | (?P<special>\#\#(?:Inf|-Inf|NaN))
  | (?P<tag>\#[A-Za-z][^\s,\[\](){}"\\;]*)
  | (?P<char>\\(?:newline|space|tab|return|u[0-9a-fA-F]{4}|.))
  | (?P<atom>[^\s,\[\](){}"\\;\#][^\s,\[\](){}"\\;]*)
""", re.X | re.S)
_INT = re.compile(r"[+-]?\d+N?")
_FLOAT = re.compile(r"[+-]?\d+(?:\.\d*)?(?:[eE][+-]?\d+)?M?")
_ESCAPES = {'"': '"', "\\": "\\", "n": "\n", "t": "\t", "r": "\r", "b": "\b", "f": "\f"}
_CHARS = {"newline": "\n", "space": " ", "tab": "\t", "return": "\r"}
_CLOSERS = {"[": "]", "(": ")", "{": "}", "#{": "}"}
_END = object()  # the text ended
_CLOSE = object()  # the expected closing bracket was met


class _Reader:
    """A reader over a stream of text chunks, tracking line and column as it goes.

    Invariants: ``text[pos:]`` is the input not yet consumed (consumed text is dropped when
    more is read, so memory is bounded by the longest token, not the file); ``line`` is the
    1-based line of ``pos`` and ``line_start`` the offset in ``text`` where that line begins
    (negative once its start was dropped). A token that reaches the end of ``text`` may go on
    in the next chunk, so it is matched again after more is read.
    """

    def __init__(self, chunks: Iterator[str]) -> None:
        self.chunks = chunks
        self.text, self.pos, self.line, self.line_start = "", 0, 1, 0
        self.dropped = 0  # characters consumed and dropped from the front of ``text``
        self.more = True

    def _read_more(self) -> bool:
        """Append at least as much input as is buffered (so growth is geometric); False at
        the end of the input."""
        if not self.more:
            return False
        if self.pos:
            self.text, self.line_start = self.text[self.pos:], self.line_start - self.pos
            self.dropped, self.pos = self.dropped + self.pos, 0
        want, got = max(len(self.text), 1 << 16), []
        while want > 0:
            chunk = next(self.chunks, None)
            if chunk is None:
                self.more = False
                break
            got.append(chunk)
            want -= len(chunk)
        if not got:
            return False
        self.text += "".join(got)
        return True

    def fail(self, message: str, where: tuple[int, int], hint: str = "") -> EdnSyntaxError:
        return EdnSyntaxError(message, where[0], where[1], hint)

    def here(self) -> tuple[int, int]:
        return self.line, self.pos - self.line_start + 1

    def token(self) -> tuple[str, str, tuple[int, int]] | None:
        """The next significant token as (kind, text, (line, column)); None at the end."""
        while True:
            if self.pos >= len(self.text):
                if not self._read_more():
                    return None
                continue
            m = _TOKEN.match(self.text, self.pos)
            if (m is None or m.end() == len(self.text)) and self._read_more():
                continue  # the token may go on in the next chunk
            where = self.here()
            if m is None:
                what = "unterminated string" if self.text[self.pos] == '"' else \
                    f"unexpected character {self.text[self.pos]!r}"
                raise self.fail(what, where, "check quotes and brackets")
            start, self.pos = self.pos, m.end()
            breaks = self.text.count("\n", start, self.pos)
            if breaks:
                self.line += breaks
                self.line_start = self.text.rfind("\n", start, self.pos) + 1
            kind = m.lastgroup or ""
            if kind != "ws":
                return kind, m.group(), where

    def form(self, depth: int, closer: str | None = None) -> tuple[object, tuple[int, int]]:
        """One form and where it starts; ``_END`` at the end of the text, ``_CLOSE`` when
        ``closer`` is met."""
        tok = self.token()
        if tok is None:
            return _END, self.here()
        return self.value(tok, depth, closer)

    def value(self, tok: tuple[str, str, tuple[int, int]], depth: int, closer: str | None
              ) -> tuple[object, tuple[int, int]]:
        """The form that token ``tok`` begins. Each level of nesting costs two stack frames
        (this and :meth:`collection`) and discards loop rather than recurse, so no input
        within :data:`MAX_DEPTH` can exhaust the stack."""
        if depth > MAX_DEPTH:
            raise self.fail(f"nested more than {MAX_DEPTH} levels deep", tok[2])
        kind, text, where = tok
        while kind == "discard":
            inner, _ = self.form(depth + 1)
            if inner is _END or inner is _CLOSE:
                raise self.fail(f"{text} must be followed by a value", where)
            nxt = self.token()
            if nxt is None:
                return _END, self.here()
            kind, text, where = nxt
        if kind == "open":
            return self.collection(text, where, depth), where
        if kind == "close":
            if text != closer:
                raise self.fail(f"unexpected {text!r}", where, "brackets do not match")
            return _CLOSE, where
        if kind == "special":
            return {"##Inf": math.inf, "##-Inf": -math.inf}.get(text, math.nan), where
        if kind == "tag":
            inner, _ = self.form(depth + 1)
            if inner is _END or inner is _CLOSE:
                raise self.fail(f"{text} must be followed by a value", where)
            return inner, where
        if kind == "str":
            return self.string(text, where), where
        if kind == "char":
            body = text[1:]
            return _CHARS.get(body) or (chr(int(body[1:], 16)) if len(body) == 5 else body), where
        return self.atom(text, where), where

    def item(self, opener: str, where: tuple[int, int], depth: int
             ) -> tuple[object, tuple[int, int]]:
        """The next form inside a collection opened by ``opener`` at ``where``, or ``_CLOSE``."""
        tok = self.token()
        if tok is None:
            raise self.fail(f"{opener!r} is never closed", where, f"add {_CLOSERS[opener]!r}")
        item, at = self.value(tok, depth + 1, _CLOSERS[opener])
        if item is _END:
            raise self.fail(f"{opener!r} is never closed", where, f"add {_CLOSERS[opener]!r}")
        return item, at

    def collection(self, opener: str, where: tuple[int, int], depth: int) -> EdnValue:
        items: list[object] = []
        while True:
            item, _ = self.item(opener, where, depth)
            if item is _CLOSE:
                break
            items.append(item)
        try:
            if opener == "{":
                if len(items) % 2:
                    raise self.fail("a map needs an even number of forms", where,
                                    "every key needs a value")
                return {items[i]: items[i + 1] for i in range(0, len(items), 2)}  # type: ignore[misc]
            if opener == "#{":
                return frozenset(items)  # type: ignore[arg-type]
        except TypeError:
            raise self.fail("a map or set cannot be a map key or a set element", where) from None
        return tuple(items)  # type: ignore[arg-type]

    def string(self, text: str, where: tuple[int, int]) -> str:
        out: list[str] = []
        i, body = 0, text[1:-1]
        while i < len(body):
            c = body[i]
            if c != "\\":
                out.append(c)
                i += 1
                continue
            e = body[i + 1]
            if e in _ESCAPES:
                out.append(_ESCAPES[e])
                i += 2
            elif e == "u" and re.fullmatch(r"[0-9a-fA-F]{4}", body[i + 2:i + 6]):
                out.append(chr(int(body[i + 2:i + 6], 16)))
                i += 6
            else:
                raise self.fail(f"unknown escape \\{e} in a string", _after(where, text[:1 + i]),
                                'use \\" \\\\ \\n \\t \\r or \\uXXXX')
        return "".join(out)

    def atom(self, text: str, where: tuple[int, int]) -> EdnValue:
        if text in ("nil", "true", "false"):
            return None if text == "nil" else text == "true"
        if text.startswith(":"):
            if len(text) == 1:
                raise self.fail("a keyword needs a name", where, "e.g. :write")
            return Keyword(text[1:])
        if _INT.fullmatch(text):
            if len(text) > 4000:
                raise self.fail("integer too long", where, "at most 4000 digits")
            return int(text.rstrip("N"))
        if _FLOAT.fullmatch(text):
            return float(text.rstrip("M"))
        if text[0].isdigit() or (text[0] in "+-" and len(text) > 1 and text[1].isdigit()):
            raise self.fail(f"bad number {text!r}", where, "e.g. 12, -3, 1.5, 2e9")
        return Symbol(text)


def _after(where: tuple[int, int], text: str) -> tuple[int, int]:
    """The position just after ``text`` when it starts at ``where``."""
    breaks = text.count("\n")
    if not breaks:
        return where[0], where[1] + len(text)
    return where[0] + breaks, len(text) - text.rfind("\n")


def iter_forms(chunks: Iterable[str], *, flatten: bool = False
               ) -> Iterator[tuple[EdnValue, int, int]]:
    """Each top-level form of the text ``chunks`` make up, with its line and column, read
    lazily; with ``flatten``, the elements of a top-level vector or list stand for
    themselves (Jepsen writes a history as one vector of op maps). Raises
    :class:`EdnSyntaxError` at the first syntax error."""
    reader = _Reader(iter(chunks))
    while True:
        tok = reader.token()
        if tok is None:
            return
        kind, text, where = tok
        if flatten and kind == "open" and text in "[(":
            while True:
                item, (line, column) = reader.item(text, where, 0)
                if item is _CLOSE:
                    break
                yield item, line, column  # type: ignore[misc]
            continue
        form, (line, column) = reader.value(tok, 0, None)  # never _CLOSE: no closer
        if form is _END:
            return
        yield form, line, column  # type: ignore[misc]


def read_one(text: str) -> tuple[EdnValue, int] | None:
    """The first form of ``text`` and the offset just after it; None when there is none.
    Raises :class:`EdnSyntaxError` (line 1-based, column within ``text``)."""
    reader = _Reader(iter([text]))
    form, _ = reader.form(0)  # never _CLOSE: no closer
    if form is _END:
        return None
    return form, reader.dropped + reader.pos  # type: ignore[return-value]


def loads_all(text: str) -> list[EdnValue]:
    """Every top-level form of ``text``; raises :class:`EdnSyntaxError` for bad input."""
    return [form for form, _, _ in iter_forms([text])]


def dumps(value: EdnValue) -> str:
    """EDN text for ``value``; tuples become vectors."""
    if value is None:
        return "nil"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "##NaN"
        return repr(value) if math.isfinite(value) else ("##Inf" if value > 0 else "##-Inf")
    if isinstance(value, str):
        body = "".join(_escape(c) for c in value)
        return f'"{body}"'
    if isinstance(value, (Keyword, Symbol)):
        return str(value)
    if isinstance(value, tuple):
        return "[" + " ".join(dumps(v) for v in value) + "]"
    if isinstance(value, frozenset):
        return "#{" + " ".join(sorted(dumps(v) for v in value)) + "}"
    return "{" + ", ".join(f"{dumps(k)} {dumps(v)}" for k, v in value.items()) + "}"


def _escape(c: str) -> str:
    if c in '"\\':
        return "\\" + c
    if c == "\n":
        return "\\n"
    if c == "\t":
        return "\\t"
    if c == "\r":
        return "\\r"
    if ord(c) < 0x20 or 0xD800 <= ord(c) <= 0xDFFF:
        return f"\\u{ord(c):04x}"
    return c
