"""Typed operations of a history: one :class:`Op` per client operation, invocation + completion.

An operation is *paired*: it carries both the invocation (``invoke_ns``) and the completion
(``complete_ns``, ``outcome``). The outcome says what the client knows:

- ``ok``: the operation took effect, at some instant between invocation and completion;
- ``fail``: it certainly did not take effect (checkers drop it);
- ``info``: unknown (timeout, lost connection): it may take effect at any instant after its
  invocation, or never. Its completion time, if recorded, is only when the client gave up;
  checkers treat its real completion as +infinity.

Values are JSON-like: JSON arrays become tuples, EDN sets frozensets, JSON objects and EDN
maps dicts. Checkers compare them in the canonical form of :mod:`faultlab.history.values`
(hashable, booleans distinct from numbers) and show them with its ``render``.

An operation read from a file carries its :class:`Source` (file, line, column), so that every
later complaint about it — a model that cannot take its value, two operations of one
process that overlap — points at the line to fix. ``Source.timed`` is false for inputs that
carry no times (Jepsen's ``history.txt``, an EDN history without ``:time``): their
``invoke_ns``/``complete_ns`` are only event positions, which keep the real-time order, and
:meth:`Op.describe` then shows the lines rather than invented times.
"""

from __future__ import annotations

import enum
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeAlias, overload

from faultlab.history.values import render

__all__ = ["History", "Key", "Op", "Outcome", "Process", "Source", "SourceFile", "Value"]

Value: TypeAlias = (
    "bool | int | float | str | tuple[Value, ...] | frozenset[Value] | dict[Value, Value] | None"
)
Key: TypeAlias = "str | int | None"
Process: TypeAlias = "int | str"  # int: a client; str: a fault injector such as "nemesis"


class Outcome(enum.Enum):
    """How an operation ended, as far as the client knows."""

    OK = "ok"
    FAIL = "fail"
    INFO = "info"


@dataclass(frozen=True, slots=True, init=False)
class Source:
    """Where an operation was read: the line to fix when something is wrong with it.

    ``line`` is the operation's line (JSON Lines) or its invocation's (EDN, Jepsen text);
    ``end_line`` its completion's, when it has one in another event. ``timed`` is false when
    the file carries no times, so the operation's times are event positions.
    """

    file: str
    line: int
    column: int = 1
    end_line: int | None = None
    timed: bool = True

    def __init__(self, file: str, line: int, column: int = 1, end_line: int | None = None,
                 timed: bool = True) -> None:
        # Slot setters instead of the frozen dataclass's object.__setattr__ calls: readers
        # build one Source and one Op per line, and this halves what that costs.
        a, b, c, d, e = _SOURCE_SETTERS
        a(self, file)
        b(self, line)
        c(self, column)
        d(self, end_line)
        e(self, timed)

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}"


class SourceFile:
    """The file a reader read, shared by the operations it read: each holds this and its line
    number, and :attr:`Op.source` builds the :class:`Source` when asked (a million-op history
    would otherwise hold a million Source objects, a fifth of its memory)."""

    __slots__ = ("name", "timed")

    def __init__(self, name: str, timed: bool = True) -> None:
        self.name, self.timed = name, timed

    def __repr__(self) -> str:
        return f"SourceFile({self.name!r})"


@dataclass(frozen=True, slots=True, init=False)
class Op:
    """One client operation: its invocation and its completion.

    ``value`` is what the operation is about: for an ``ok`` operation the value its completion
    reported (a read's result; for a write, the value written), for ``fail`` and ``info`` the
    value it was invoked with (``None`` for a read). ``complete_ns`` is ``None`` only for an
    ``info`` operation that never completed at all (the run ended first). ``source`` says
    where it was read (``None`` when recorded in memory); it takes no part in equality. A
    reader may give a :class:`SourceFile` and the ``line`` instead of a :class:`Source`.
    """

    index: int
    process: Process
    f: str
    value: Value
    invoke_ns: int
    complete_ns: int | None
    outcome: Outcome
    key: Key = None
    error: str | None = None
    _where: Source | SourceFile | None = field(default=None, compare=False, repr=False)
    _line: int = field(default=0, compare=False, repr=False)

    def __init__(self, index: int, process: Process, f: str, value: Value, invoke_ns: int,
                 complete_ns: int | None, outcome: Outcome, key: Key = None,
                 error: str | None = None, source: Source | SourceFile | None = None,
                 line: int = 0) -> None:
        a, b, c, d, e, g, h, i, j, k, m = _OP_SETTERS  # see Source.__init__
        a(self, index)
        b(self, process)
        c(self, f)
        d(self, value)
        e(self, invoke_ns)
        g(self, complete_ns)
        h(self, outcome)
        i(self, key)
        j(self, error)
        k(self, source)
        m(self, line)

    @property
    def source(self) -> Source | None:
        """Where it was read, ``None`` when recorded in memory."""
        where = self._where
        if isinstance(where, SourceFile):
            return Source(where.name, self._line, 1, None, where.timed)
        return where

    @property
    def is_client(self) -> bool:
        """False for fault-injection ops (a non-integer process such as ``"nemesis"``)."""
        return isinstance(self.process, int) and not isinstance(self.process, bool)

    def describe(self) -> str:
        """A short text for people: ``#12 p3 key "k1": write 5 ok [1.000000s–1.000200s]``.

        Values are rendered as JSON-like text; an operation from an untimed input shows its
        lines instead of times (``[lines 7–9]``).
        """
        who = f"p{self.process}" if self.is_client else render(self.process)
        key = "" if self.key is None else f" key {render(self.key)}:"
        value = "" if self.value is None and self.f == "read" and self.outcome is not \
            Outcome.OK else f" {render(self.value, limit=120)}"
        return f"#{self.index} {who}{key} {self.f}{value} {self.outcome.value} {self.span()}"

    def span(self) -> str:
        """When it ran: ``[1.000000s–1.000200s]`` (``[0.000000005s–...]`` when times are not
        whole microseconds), or ``[lines 7–9]`` for an input that carries no times."""
        source = self.source
        if source is not None and not source.timed:
            if source.end_line is None:
                return f"[line {source.line}, never completed]"
            if source.end_line == source.line:
                return f"[line {source.line}]"
            return f"[lines {source.line}–{source.end_line}]"
        end = "∞" if self.complete_ns is None else _seconds(self.complete_ns)
        return f"[{_seconds(self.invoke_ns)}–{end}]"


def _setters(cls: type, names: str) -> tuple[Any, ...]:
    return tuple(cls.__dict__[name].__set__ for name in names.split())


_SOURCE_SETTERS = _setters(Source, "file line column end_line timed")
_OP_SETTERS = _setters(Op, "index process f value invoke_ns complete_ns outcome key error "
                           "_where _line")


def _seconds(ns: int) -> str:
    """Nanoseconds as seconds, to the microsecond, or to the nanosecond when that matters
    (so short hand-made histories do not read as all zeros)."""
    whole, rest = divmod(ns, 1_000_000_000)
    if rest % 1000:
        return f"{whole}.{rest:09d}s"
    return f"{whole}.{rest // 1000:06d}s"


@dataclass(frozen=True)
class History(Sequence[Op]):
    """The operations of one run, in the order they were recorded (``index`` order)."""

    ops: tuple[Op, ...]

    def __len__(self) -> int:
        return len(self.ops)

    @overload
    def __getitem__(self, i: int) -> Op: ...
    @overload
    def __getitem__(self, i: slice) -> Sequence[Op]: ...
    def __getitem__(self, i: int | slice) -> Op | Sequence[Op]:
        return self.ops[i]

    def __iter__(self) -> Iterator[Op]:
        return iter(self.ops)

    def client_ops(self) -> list[Op]:
        """The operations of clients (fault-injection ops left out)."""
        return [op for op in self.ops if op.is_client]
