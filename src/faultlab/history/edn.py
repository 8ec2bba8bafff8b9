"""A small EDN reader and writer: the subset Jepsen writes in ``history.edn``.

Supported: maps, vectors, lists, sets, keywords, symbols, strings (with ``\\n``-style and
``\\uXXXX`` escapes), characters, integers (``N`` suffix), floats (``M`` suffix), ``nil``,
``true``/``false``, comments (``;``), discards (``#_``) and tagged literals (``#inst "..."``,
``#jepsen.history.Op{...}``), whose tag is dropped and whose value is kept. Commas are
whitespace. Vectors and lists both read as tuples.

The reader raises only :class:`EdnSyntaxError` (with line and column), never anything else,
whatever the input: nesting is capped at :data:`MAX_DEPTH` so deep input cannot exhaust the
Python stack.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import TypeAlias

__all__ = ["MAX_DEPTH", "EdnSyntaxError", "EdnValue", "Keyword", "Symbol", "dumps", "loads_all"]

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
    def __init__(self, text: str) -> None:
        self.text, self.pos = text, 0

    def where(self, pos: int) -> tuple[int, int]:
        line = self.text.count("\n", 0, pos) + 1
        return line, pos - (self.text.rfind("\n", 0, pos) + 1) + 1

    def fail(self, message: str, pos: int, hint: str = "") -> EdnSyntaxError:
        return EdnSyntaxError(message, *self.where(pos), hint)

    def token(self) -> tuple[str, str, int] | None:
        """The next significant token as (kind, text, start); None at the end of the text."""
        while self.pos < len(self.text):
            m = _TOKEN.match(self.text, self.pos)
            if m is None:
                what = "unterminated string" if self.text[self.pos] == '"' else \
                    f"unexpected character {self.text[self.pos]!r}"
                raise self.fail(what, self.pos, "check quotes and brackets")
            start, self.pos = self.pos, m.end()
            kind = m.lastgroup or ""
            if kind != "ws":
                return kind, m.group(), start
        return None

    def form(self, depth: int, closer: str | None = None) -> object:
        """One form, or ``_END`` at the end of text, or ``_CLOSE`` when ``closer`` is met."""
        if depth > MAX_DEPTH:
            raise self.fail(f"nested more than {MAX_DEPTH} levels deep", self.pos)
        tok = self.token()
        if tok is None:
            return _END
        kind, text, start = tok
        if kind == "open":
            return self.collection(text, start, depth)
        if kind == "close":
            if text != closer:
                raise self.fail(f"unexpected {text!r}", start, "brackets do not match")
            return _CLOSE
        if kind == "special":
            return {"##Inf": math.inf, "##-Inf": -math.inf}.get(text, math.nan)
        if kind in ("discard", "tag"):
            inner = self.form(depth + 1)
            if inner is _END or inner is _CLOSE:
                raise self.fail(f"{text} must be followed by a value", start)
            return self.form(depth, closer) if kind == "discard" else inner
        if kind == "str":
            return self.string(text, start)
        if kind == "char":
            body = text[1:]
            return _CHARS.get(body) or (chr(int(body[1:], 16)) if len(body) == 5 else body)
        return self.atom(text, start)

    def collection(self, opener: str, start: int, depth: int) -> EdnValue:
        closer = _CLOSERS[opener]
        items: list[object] = []
        while True:
            item = self.form(depth + 1, closer)
            if item is _END:
                raise self.fail(f"{opener!r} is never closed", start, f"add {closer!r}")
            if item is _CLOSE:
                break
            items.append(item)
        try:
            if opener == "{":
                if len(items) % 2:
                    raise self.fail("a map needs an even number of forms", start,
                                    "every key needs a value")
                return {items[i]: items[i + 1] for i in range(0, len(items), 2)}  # type: ignore[misc]
            if opener == "#{":
                return frozenset(items)  # type: ignore[arg-type]
        except TypeError:
            raise self.fail("a map or set cannot be a map key or a set element", start) from None
        return tuple(items)  # type: ignore[arg-type]

    def string(self, text: str, start: int) -> str:
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
                raise self.fail(f"unknown escape \\{e} in a string", start + 1 + i,
                                'use \\" \\\\ \\n \\t \\r or \\uXXXX')
        return "".join(out)

    def atom(self, text: str, start: int) -> EdnValue:
        if text in ("nil", "true", "false"):
            return None if text == "nil" else text == "true"
        if text.startswith(":"):
            if len(text) == 1:
                raise self.fail("a keyword needs a name", start, "e.g. :write")
            return Keyword(text[1:])
        if _INT.fullmatch(text):
            if len(text) > 4000:
                raise self.fail("integer too long", start, "at most 4000 digits")
            return int(text.rstrip("N"))
        if _FLOAT.fullmatch(text):
            return float(text.rstrip("M"))
        if text[0].isdigit() or (text[0] in "+-" and len(text) > 1 and text[1].isdigit()):
            raise self.fail(f"bad number {text!r}", start, "e.g. 12, -3, 1.5, 2e9")
        return Symbol(text)


def loads_all(text: str) -> list[EdnValue]:
    """Every top-level form of ``text``; raises :class:`EdnSyntaxError` for bad input."""
    reader = _Reader(text)
    out: list[EdnValue] = []
    while True:
        form = reader.form(0)
        if form is _END:
            return out
        out.append(form)  # type: ignore[arg-type]


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
