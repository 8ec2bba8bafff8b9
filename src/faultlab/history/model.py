"""Typed operations of a history: one :class:`Op` per client operation, invocation + completion.

An operation is *paired*: it carries both the invocation (``invoke_ns``) and the completion
(``complete_ns``, ``outcome``). The outcome says what the client knows:

- ``ok``: the operation took effect, at some instant between invocation and completion;
- ``fail``: it certainly did not take effect (checkers drop it);
- ``info``: unknown (timeout, lost connection): it may take effect at any instant after its
  invocation, or never. Its completion time, if recorded, is only when the client gave up;
  checkers treat its real completion as +infinity.

Values are JSON-like and hashable where possible: JSON arrays become tuples, EDN sets become
frozensets, JSON objects and EDN maps become dicts (the one unhashable case; models that keep
maps in their state convert them).
"""

from __future__ import annotations

import enum
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import TypeAlias, overload

__all__ = ["History", "Key", "Op", "Outcome", "Process", "Value"]

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


@dataclass(frozen=True, slots=True)
class Op:
    """One client operation: its invocation and its completion.

    ``value`` is what the operation is about: for an ``ok`` operation the value its completion
    reported (a read's result; for a write, the value written), for ``fail`` and ``info`` the
    value it was invoked with (``None`` for a read). ``complete_ns`` is ``None`` only for an
    ``info`` operation that never completed at all (the run ended first).
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

    @property
    def is_client(self) -> bool:
        """False for fault-injection ops (a non-integer process such as ``"nemesis"``)."""
        return isinstance(self.process, int) and not isinstance(self.process, bool)

    def describe(self) -> str:
        """A short text for people: ``#12 p3 write k1 5 ok [1.000000s–1.000200s]``."""
        key = f" {self.key!r}" if self.key is not None else ""
        end = "∞" if self.complete_ns is None else f"{self.complete_ns / 1e9:.6f}s"
        return (f"#{self.index} p{self.process} {self.f}{key} {self.value!r} "
                f"{self.outcome.value} [{self.invoke_ns / 1e9:.6f}s–{end}]")


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
