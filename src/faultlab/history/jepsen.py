"""Jepsen histories in EDN: import into faultlab's paired form, and export back.

Jepsen writes one event per op map: ``{:type :invoke|:ok|:fail|:info, :f :write, :value 3,
:process 0, :time 123}`` (a top-level vector of maps, or maps one per line). Importing pairs
each completion with the pending invocation of the same process (processes are
single-threaded). An invocation never completed becomes ``info`` with no completion time,
as Jepsen's preprocessing does. A fault injector (a non-integer process such as ``:nemesis``)
writes ``:info`` for both its invocation and its completion; both are accepted.

The structural rules are those of every history (:mod:`faultlab.history.rules`): a
completion needs an open invocation of its process, a process has one operation open at a
time, an empty history is an error. Times: either every event has ``:time`` (integer
nanoseconds, never decreasing from one event to the next, as Jepsen writes them) or none
has, and then the events' positions stand in for times (they keep the real-time order) and
operations are described by their lines. Events are paired as they are read, so a mistake
near the top of a huge history is reported without reading the rest.

Values: keywords and symbols become their names (strings), vectors and lists tuples, sets
frozensets; numbers must be finite. An ``ok`` op takes its completion's value (a read's
result), others their invocation's. With ``independent=True`` every client op's value is
``[k v]``, split into key ``k`` and value ``v`` (``jepsen.independent``); a ``:key`` field is
always honoured. Other fields (``:index``, ``:node``, ...) are ignored.

Export writes one event map per line in time order: at equal times, completions of earlier
operations first, then operations that take no time (invocation, then completion), then
invocations, so a process's next invocation never precedes its previous completion; a read's
invocation has ``:value nil``, and keys are ``:key`` (or ``[k v]`` values with
``independent=True``).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from faultlab.history.edn import (
    EdnSyntaxError,
    EdnValue,
    Keyword,
    Symbol,
    dumps,
    iter_forms,
)
from faultlab.history.errors import HistoryError, HistoryProblem
from faultlab.history.lines import file_lines, text_lines
from faultlab.history.model import History, Key, Op, Outcome, Process, Source, Value
from faultlab.history.rules import (
    MAX_TIME_NS,
    Problems,
    Rule,
    Timeline,
    completion_before_invocation,
    no_invocation,
    no_operations,
    two_open,
)
from faultlab.history.values import Flag, FrozenMap

__all__ = ["Pairing", "parse_edn_history", "read_edn_history", "to_edn", "write_edn_history"]

_TYPES = {"invoke": None, "ok": Outcome.OK, "fail": Outcome.FAIL, "info": Outcome.INFO}
_READS = frozenset({"read", "dequeue", "generate"})
_OP_MAP = "{:type :invoke, :f :read, :value nil, :process 0, :time 0}"


def read_edn_history(path: str | Path, *, independent: bool = False) -> History:
    """Read a Jepsen ``history.edn``; raises :class:`HistoryError` for bad input."""
    return _read(file_lines(path), str(path), independent)


def parse_edn_history(text: str, file: str = "<history.edn>", *, independent: bool = False
                      ) -> History:
    """Parse Jepsen EDN history text (``file`` only names the source in problems)."""
    return _read(text_lines(text), file, independent)


def _read(lines: Iterator[tuple[int, str]], file: str, independent: bool) -> History:
    pairing = Pairing(file, independent=independent)
    try:
        for form, line, column in iter_forms((text + "\n" for _, text in lines),
                                             flatten=True):
            pairing.feed(form, line, column)
            if pairing.problems.enough(line):
                break
    except EdnSyntaxError as exc:
        pairing.problems.add(exc.line, exc.column, Rule(exc.message, exc.hint))
        pairing.problems.check()
    except HistoryError as exc:  # the file could not be read on
        raise pairing.problems.absorb(exc) from None
    return pairing.finish(f"expected op maps such as {_OP_MAP}")


class _Bad(Exception):
    def __init__(self, rule: Rule | str, hint: str = "") -> None:
        super().__init__(str(rule))
        self.rule = rule if isinstance(rule, Rule) else Rule(rule, hint)


@dataclass(frozen=True)
class _Invoked:
    event: dict[str, EdnValue]
    line: int
    column: int
    time: int
    slot: int  # the operation's index: its invocation's order


_MISSING: EdnValue = Symbol("")  # no such field (an EDN symbol can never be empty)


class Pairing:
    """Pairs Jepsen events into operations as they arrive (also used for Jepsen's text).

    Invariants: ``pending`` holds the one open invocation of each process; ``ops[i]`` is the
    operation invoked ``i``-th (``None`` until it completes), so ``i`` is its index;
    ``timed`` is decided by the first event (does it carry ``:time``?) and holds for all.
    """

    def __init__(self, file: str, *, independent: bool = False) -> None:
        self.file, self.independent = file, independent
        self.problems = Problems(file)
        self.timeline = Timeline(ordered=True)
        self.pending: dict[Process, _Invoked] = {}
        self.ops: list[Op | None] = []
        self.timed: bool | None = None
        self.events = 0  # events fed so far: the next event's position
        self.last_time = (0, 0)  # the latest :time so far, and its line

    def feed(self, form: EdnValue, line: int, column: int) -> None:
        """Take one event (an op map) read at ``line``:``column``."""
        position = self.events
        self.events += 1
        if not isinstance(form, dict):
            self.problems.add(line, column, Rule(f"expected an op map such as {_OP_MAP}"))
            return
        try:
            self._event({_name(k): v for k, v in form.items()}, line, column, position)
        except _Bad as bad:
            self.problems.add(line, column, bad.rule)

    def _event(self, event: dict[str, EdnValue], line: int, column: int, position: int
               ) -> None:
        time = self._time(event, position)
        try:
            kind = _TYPES[_name(event.get("type"))]
        except KeyError:
            raise _Bad(f"unknown :type {dumps(event.get('type'))}",
                       "one of :invoke :ok :fail :info") from None
        process = _process(event.get("process"))
        if kind is Outcome.INFO and process not in self.pending and isinstance(process, str):
            kind = None  # a fault injector's invocation
        invoked = self.pending.get(process)
        if kind is not None and invoked is not None and time < invoked.time:
            del self.pending[process]  # the rule most specific to the mistake goes first
            raise _Bad(completion_before_invocation(time, invoked.time, invoked.line))
        latest, at = self.last_time
        if time < latest:  # only with :time: positions always increase
            raise _Bad(f":time {time} is before :time {latest} of the event on line {at}",
                       "events are in time order, as Jepsen writes them; sort them by :time")
        self.last_time = (time, line)
        if kind is None:
            if invoked is not None:
                raise _Bad(two_open(process, invoked.line))
            self.pending[process] = _Invoked(event, line, column, time, len(self.ops))
            self.ops.append(None)
            return
        if invoked is None:
            raise _Bad(no_invocation(process))
        del self.pending[process]
        op = self.op(invoked, event, kind, process, time, line)
        self.ops[invoked.slot] = op
        broken = self.timeline.add(op)
        if broken is not None:
            self.problems.add(invoked.line, invoked.column, broken)

    def _time(self, event: dict[str, EdnValue], position: int) -> int:
        raw = event.get("time", _MISSING)
        has = raw is not _MISSING
        if self.timed is None:
            self.timed = has
        if has != self.timed:
            first = "has none" if has else "has one"
            raise _Bad(f"this event {'has' if has else 'has no'} :time, but the first event "
                       f"{first}", "give every event a :time (integer nanoseconds), or none")
        if not has:
            return position
        if not isinstance(raw, int) or isinstance(raw, bool) or not 0 <= raw <= MAX_TIME_NS:
            raise _Bad(f":time must be an integer from 0 to {MAX_TIME_NS}, found {dumps(raw)}",
                       "times are nanoseconds, e.g. :time 1500000000 for 1.5 s")
        return raw

    def op(self, invoked: _Invoked, done: dict[str, EdnValue] | None, outcome: Outcome,
           process: Process, t1: int | None, end_line: int | None) -> Op:
        """The operation of an invocation and its completion (``None``: never completed)."""
        start = invoked.event
        f = start.get("f")
        if not isinstance(f, (Keyword, Symbol, str)) or not _name(f):
            raise _Bad(f"op needs :f (a keyword such as :read), found {dumps(f)}")
        if done is not None and _name(done.get("f")) != _name(f):
            raise _Bad(f"completion :f {dumps(done.get('f'))} does not match invocation "
                       f":f {dumps(f)} on line {invoked.line}")
        value = start.get("value")
        if outcome is Outcome.OK and done is not None and done.get("value") is not None:
            value = done.get("value")
        key: EdnValue = start.get("key")
        client = isinstance(process, int)
        if self.independent and client:
            if not (isinstance(value, tuple) and len(value) == 2):
                raise _Bad(f"with independent keys a client op's :value is [key value], found "
                           f"{dumps(value)}", "leave out --independent for plain values")
            key, value = value
        error = done.get("error") if done is not None else None
        source = Source(self.file, invoked.line, invoked.column, end_line,
                        self.timed is not False)
        return Op(invoked.slot, process, _name(f), _plain(value), invoked.time, t1, outcome,
                  _key(key), None if error is None else _text(error), source)

    def finish(self, empty: str) -> History:
        """The history, once every event was fed; raises :class:`HistoryError` for the
        problems found, or when there is no operation (``empty`` says what was expected)."""
        for invoked in self.pending.values():
            try:
                process = _process(invoked.event.get("process"))
                self.ops[invoked.slot] = self.op(invoked, None, Outcome.INFO, process, None,
                                                 None)
            except _Bad as bad:
                self.problems.add(invoked.line, invoked.column, bad.rule)
        self.pending.clear()
        self.problems.check()
        ops = tuple(op for op in self.ops if op is not None)
        if not ops:
            rule = no_operations(empty)
            raise HistoryError([HistoryProblem(self.file, 1, 1, rule.message, rule.hint)])
        return History(ops)


def _plain(value: EdnValue) -> Value:
    if isinstance(value, (Keyword, Symbol)):
        return value.name
    if isinstance(value, float) and not math.isfinite(value):
        raise _Bad(f"{dumps(value)} is not a usable value", "numbers in values are finite")
    if isinstance(value, tuple):
        return tuple(_plain(v) for v in value)
    if isinstance(value, frozenset):
        return frozenset(_plain(v) for v in value)
    if isinstance(value, dict):
        return {_plain(k): _plain(v) for k, v in value.items()}
    return value


def _name(value: EdnValue) -> str:
    return value.name if isinstance(value, (Keyword, Symbol)) else str(value)


def _text(value: EdnValue) -> str:
    if isinstance(value, str):
        return value
    return value.name if isinstance(value, (Keyword, Symbol)) else dumps(value)


def _process(raw: EdnValue) -> Process:
    if isinstance(raw, int) and not isinstance(raw, bool):
        return raw
    if isinstance(raw, (Keyword, Symbol, str)) and _name(raw):
        name = _name(raw)
        if name.lstrip("-").isdigit():
            raise _Bad(f"process {dumps(raw)} is a name that looks like a number",
                       "clients are numbered (:process 0); fault injectors are named "
                       "(:process :nemesis)")
        return name
    raise _Bad(f"op needs :process (an integer, or a name such as :nemesis), found {dumps(raw)}")


def _key(raw: EdnValue) -> Key:
    plain = _plain(raw)
    if plain is None or isinstance(plain, str) or (
            isinstance(plain, int) and not isinstance(plain, bool)):
        return plain
    raise _Bad(f"a key must be a string, keyword or integer, found {dumps(raw)}")


def _edn(value: Value) -> EdnValue:
    # The same shapes: tuple → vector, frozenset → set, mapping → map (canonical values too).
    if isinstance(value, Flag):
        return value.value
    if isinstance(value, tuple):
        return tuple(_edn(v) for v in value)
    if isinstance(value, frozenset):
        return frozenset(_edn(v) for v in value)
    if isinstance(value, (dict, FrozenMap)):
        return {_edn(k): _edn(v) for k, v in value.items()}
    return value


def to_edn(history: Iterable[Op], *, independent: bool = False) -> str:
    """Jepsen's event form of ``history``: one op map per line, in time order (see the
    module doc for the order at equal times)."""
    events: list[tuple[int, int, int, int, str]] = []
    for op in history:
        process = dumps(op.process if isinstance(op.process, int) else Keyword(op.process))
        value = None if op.outcome is Outcome.OK and op.f in _READS else op.value
        instant = op.complete_ns == op.invoke_ns
        events.append((op.invoke_ns, 1 if instant else 2, op.index, 0, _event(
            op, "invoke", process, value, op.invoke_ns, independent)))
        if op.complete_ns is not None:
            events.append((op.complete_ns, 1 if instant else 0, op.index, 1, _event(
                op, op.outcome.value, process, op.value, op.complete_ns, independent)))
    events.sort()
    return "".join(text + "\n" for *_, text in events)


def _event(op: Op, kind: str, process: str, value: Value, time: int, independent: bool
           ) -> str:
    fields = [f":type :{kind}", f":f {_f(op.f)}"]
    if independent and op.key is not None:
        fields.append(f":value {dumps((op.key, _edn(value)))}")
    else:
        fields.append(f":value {dumps(_edn(value))}")
        if op.key is not None:
            fields.append(f":key {dumps(op.key)}")
    fields += [f":process {process}", f":time {time}"]
    if kind != "invoke" and op.error is not None:
        fields.append(f":error {dumps(op.error)}")
    return "{" + ", ".join(fields) + "}"


def _f(f: str) -> str:
    ok = f and not f[0].isdigit() and all(c.isalnum() or c in "-_?!*+<>=./" for c in f)
    return ":" + f if ok else dumps(f)


def write_edn_history(history: Iterable[Op], path: str | Path, *, independent: bool = False
                       ) -> None:
    """Write ``history`` as a Jepsen ``history.edn`` (see :func:`to_edn`)."""
    Path(path).write_text(to_edn(history, independent=independent), encoding="utf-8")
