"""Jepsen histories in EDN: import into faultlab's paired form, and export back.

Jepsen writes one event per op map: ``{:type :invoke|:ok|:fail|:info, :f :write, :value 3,
:process 0, :time 123}`` (a top-level vector of maps, or maps one per line). Importing pairs
each completion with the pending invocation of the same process (processes are
single-threaded). An invocation never completed becomes ``info`` with no completion time,
as Jepsen's preprocessing does. A fault injector (a non-integer process such as ``:nemesis``)
writes ``:info`` for both its invocation and its completion; both are accepted.

Values: keywords and symbols become their names (strings), vectors and lists tuples, sets
frozensets. An ``ok`` op takes its completion's value (a read's result), others their
invocation's. With ``independent=True`` a value ``[k v]`` is split into key ``k`` and value
``v`` (``jepsen.independent``); a ``:key`` field is always honoured. When any event lacks
``:time`` the events' positions stand in for times, which keeps their real-time order.

Export writes one event map per line, completions before invocations at equal times (so a
process's next invocation never precedes its previous completion), a read's invocation with
``:value nil``, and keys as ``:key`` (or as ``[k v]`` values with ``independent=True``).
"""

from __future__ import annotations

from pathlib import Path

from faultlab.history.edn import EdnSyntaxError, EdnValue, Keyword, Symbol, dumps, loads_all
from faultlab.history.errors import HistoryError, HistoryProblem
from faultlab.history.model import History, Key, Op, Outcome, Process, Value

__all__ = ["parse_edn_history", "read_edn_history", "to_edn", "write_edn_history"]

_TYPES = {"invoke": None, "ok": Outcome.OK, "fail": Outcome.FAIL, "info": Outcome.INFO}
_READS = frozenset({"read", "dequeue", "generate"})
_MAX_PROBLEMS = 20


def read_edn_history(path: str | Path, *, independent: bool = False) -> History:
    """Read a Jepsen ``history.edn``; raises :class:`HistoryError` for bad input."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise HistoryError([HistoryProblem(str(path), 1, 1, f"cannot read: {reason}")]
                           ) from None
    return parse_edn_history(text, str(path), independent=independent)


def parse_edn_history(text: str, file: str = "<history.edn>", *, independent: bool = False
                      ) -> History:
    try:
        forms = loads_all(text)
    except EdnSyntaxError as exc:
        raise HistoryError([HistoryProblem(file, exc.line, exc.column, exc.message, exc.hint)]
                           ) from None
    if len(forms) == 1 and isinstance(forms[0], tuple):
        forms = list(forms[0])
    return _Pairing(file, text, independent).run(forms)


class _Bad(Exception):
    pass


def _plain(value: EdnValue) -> Value:
    if isinstance(value, (Keyword, Symbol)):
        return value.name
    if isinstance(value, tuple):
        return tuple(_plain(v) for v in value)
    if isinstance(value, frozenset):
        return frozenset(_plain(v) for v in value)
    if isinstance(value, dict):
        return {_plain(k): _plain(v) for k, v in value.items()}
    return value


class _Pairing:
    def __init__(self, file: str, text: str, independent: bool) -> None:
        self.file, self.independent = file, independent
        self.problems: list[HistoryProblem] = []
        # EDN forms carry no positions; events are located by their line when one per line.
        self.lines = [i + 1 for i, line in enumerate(text.split("\n")) if "{" in line]

    def where(self, position: int) -> int:
        return self.lines[position] if position < len(self.lines) else 1

    def run(self, forms: list[EdnValue]) -> History:
        events: list[tuple[int, dict[str, EdnValue]]] = []
        for i, form in enumerate(forms):
            if not isinstance(form, dict):
                self.problem(i, "expected an op map such as {:type :invoke, :f :read, ...}")
                continue
            events.append((i, {_name(k): v for k, v in form.items()}))
        use_time = all(isinstance(e.get("time"), int) and not isinstance(e.get("time"), bool)
                       for _, e in events)
        pending: dict[Process, tuple[int, dict[str, EdnValue], int]] = {}
        started: list[tuple[int, int, dict[str, EdnValue], int, Op | None]] = []
        ops: dict[int, Op] = {}
        for i, event in events:
            if len(self.problems) >= _MAX_PROBLEMS:
                break
            time = event["time"] if use_time else i
            assert isinstance(time, int)
            try:
                kind = _TYPES[_name(event.get("type"))]
                process = _process(event.get("process"))
                if kind is not None and process not in pending and (
                        kind is Outcome.INFO and isinstance(process, str)):
                    kind = None  # a fault injector's invocation
                if kind is None:
                    if process in pending:
                        raise _Bad(f"process {process} invoked again before its previous "
                                   "op completed")
                    pending[process] = (i, event, time)
                    started.append((i, time, event, 0, None))
                    continue
                if process not in pending:
                    raise _Bad(f"a completion for process {process} with no invocation")
                start, invoked, t0 = pending.pop(process)
                ops[start] = self.op(invoked, event, kind, process, t0, time)
            except _Bad as bad:
                self.problem(i, str(bad))
            except KeyError:
                self.problem(i, f"unknown :type {dumps(event.get('type'))}",
                             "one of :invoke :ok :fail :info")
        for start, invoked, t0 in pending.values():
            try:
                ops[start] = self.op(invoked, None, Outcome.INFO, _process(invoked["process"]),
                                     t0, None)
            except _Bad as bad:
                self.problem(start, str(bad))
        if self.problems:
            raise HistoryError(self.problems)
        ordered = [ops[start] for start, *_ in started if start in ops]
        return History(tuple(_reindex(op, n) for n, op in enumerate(ordered)))

    def op(self, invoked: dict[str, EdnValue], done: dict[str, EdnValue] | None,
           outcome: Outcome, process: Process, t0: int, t1: int | None) -> Op:
        f = invoked.get("f")
        if not isinstance(f, (Keyword, Symbol, str)) or not _name(f):
            raise _Bad(f"op needs :f (a keyword such as :read), found {dumps(f)}")
        if done is not None and _name(done.get("f")) != _name(f):
            raise _Bad(f"completion :f {dumps(done.get('f'))} does not match invocation "
                       f":f {dumps(f)}")
        value = invoked.get("value")
        if outcome is Outcome.OK and done is not None and done.get("value") is not None:
            value = done.get("value")
        key: EdnValue = invoked.get("key")
        if self.independent and isinstance(value, tuple) and len(value) == 2:
            key, value = value
        error = done.get("error") if done is not None else None
        return Op(0, process, _name(f), _plain(value), t0, t1, outcome, _key(key),
                  None if error is None else _text(error))

    def problem(self, position: int, message: str, hint: str = "") -> None:
        self.problems.append(HistoryProblem(self.file, self.where(position), 1, message, hint))


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
        return _name(raw)
    raise _Bad(f"op needs :process (an integer, or a name such as :nemesis), found {dumps(raw)}")


def _key(raw: EdnValue) -> Key:
    plain = _plain(raw)
    if plain is None or isinstance(plain, str) or (
            isinstance(plain, int) and not isinstance(plain, bool)):
        return plain
    raise _Bad(f"a key must be a string, keyword or integer, found {dumps(raw)}")


def _reindex(op: Op, index: int) -> Op:
    return Op(index, op.process, op.f, op.value, op.invoke_ns, op.complete_ns, op.outcome,
              op.key, op.error)


def _edn(value: Value) -> EdnValue:
    # The same shapes: tuple → vector, frozenset → set, dict → map.
    if isinstance(value, tuple):
        return tuple(_edn(v) for v in value)
    if isinstance(value, frozenset):
        return frozenset(_edn(v) for v in value)
    if isinstance(value, dict):
        return {_edn(k): _edn(v) for k, v in value.items()}
    return value


def to_edn(history: History, *, independent: bool = False) -> str:
    """Jepsen's event form of ``history``: one op map per line."""
    events: list[tuple[int, int, int, str]] = []
    for op in history:
        process = dumps(op.process if isinstance(op.process, int) else Keyword(op.process))
        value = None if op.outcome is Outcome.OK and op.f in _READS else op.value
        events.append((op.invoke_ns, 1, op.index, _event(op, "invoke", process, value,
                                                          op.invoke_ns, independent)))
        if op.complete_ns is not None:
            events.append((op.complete_ns, 0, op.index, _event(
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


def write_edn_history(history: History, path: str | Path, *, independent: bool = False
                      ) -> None:
    Path(path).write_text(to_edn(history, independent=independent), encoding="utf-8")
