"""Sequential specifications (models) for the linearizability checker, and how to write one.

A :class:`Model` is a pure, deterministic state machine over hashable states::

    def step(state: int, op: Op) -> tuple[bool, int]:
        if op.f == "incr":
            return True, state + 1
        return op.value == state, state          # "read": legal only if it saw the state

    counter = Model("my-counter", init=lambda: 0, step=step, fs=frozenset({"incr", "read"}))

``step(state, op)`` returns ``(legal, new_state)``; an illegal step's new state is ignored. It
sees only ``ok`` and ``info`` operations (failed ones are dropped first), with values in
canonical form (:mod:`faultlab.history.values`: JSON objects as hashable ``FrozenMap``,
booleans as ``Flag``), so any JSON value can be part of a state. An ``info`` op's ``value`` is
what was invoked (``None`` for a read); ``info`` ops for which ``read_only(op)`` holds are
dropped too (they change nothing and observed nothing). States must be hashable and compare
by value: the search memoises (linearized set, state) pairs. ``partition(op)`` maps an
op to the independent object it touches (default: ``op.key``); partitions are checked
separately (P-compositionality), so it must only separate ops that never interact.

Before the search, every op must be one the model takes: its ``f`` in ``fs`` and, when the
model has ``accepts``, ``accepts(op)`` is ``None`` (else it says what the model expects of the
value, e.g. "a cas value is [expected, new]"); otherwise :class:`ModelError` names the op
and its file position. Optional hooks make failures readable and easy histories fast:
``render(state)`` shows a state (JSON-like text by default); ``explain(state, op)`` says
what state ``op`` would need; ``precheck(ops)`` finds an op that no order can justify (e.g. a
read of a value never written) in linear time; ``prune(ops)`` drops ``info`` ops that provably
cannot matter. Promises about ``step`` let the search prune: ``read_only(op)`` holds only
for an op that leaves every state as it was (the search places a legal ``ok`` read at
once); ``blind(op)`` holds for an op that is legal in every state and whose new state does
not depend on the old one (a register's write); and ``by_value`` says ``step`` (and
``blind``, ``table``) read only ``op.f``, ``op.value`` and ``op.outcome`` (never the process
or the times), so crashed ops alike in those are interchangeable. ``table(op)``, when
given, is ``step`` as data: ``(needs, leaves)``, where ``needs`` is the one state in which
``op`` is legal (:data:`ANY`: every state) and ``leaves`` the state after it (:data:`SAME`:
unchanged); the search then compares instead of calling.
Built-ins, by name in :data:`MODELS`: register, cas-register, multi-register
(alias kv), set, fifo-queue (alias queue), counter, mutex.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from faultlab.check.result import ModelError
from faultlab.history import Op, Outcome
from faultlab.history.errors import suggest
from faultlab.history.values import Flag, render

__all__ = ["ANY", "MODELS", "SAME", "Model", "by_key", "get_model", "validate"]

S = TypeVar("S", bound=Hashable)


class _Marker:
    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return self.name


ANY: Any = _Marker("ANY")  # in a step table: legal in any state
SAME: Any = _Marker("SAME")  # in a step table: leaves the state as it was


def by_key(op: Op) -> Hashable:
    return op.key


def _is_read(op: Op) -> bool:
    return op.f == "read"


@dataclass(frozen=True)
class Model(Generic[S]):
    """A sequential specification; see the module docstring."""

    name: str
    init: Callable[[], S]
    step: Callable[[S, Op], tuple[bool, S]]
    fs: frozenset[str] | None = None  # the functions it understands; None: any
    partition: Callable[[Op], Hashable] | None = by_key  # None: one partition
    read_only: Callable[[Op], bool] = _is_read
    render: Callable[[S], str] = render
    explain: Callable[[S, Op], str] | None = None
    precheck: Callable[[Sequence[Op]], tuple[Op, str] | None] | None = None
    prune: Callable[[list[Op]], list[Op]] | None = None
    accepts: Callable[[Op], str | None] | None = None  # why it cannot take op; None: it can
    # Search prunings (see faultlab.check.linear); both are promises about step:
    blind: Callable[[Op], bool] | None = None  # op legal in any state, new state ignores it
    by_value: bool = False  # step reads only op.f, op.value and op.outcome
    # step as a table: (the state op needs, or ANY; the state it leaves, or SAME)
    table: Callable[[Op], tuple[Any, Any]] | None = None


# --- registers ------------------------------------------------------------------------------

def _register_step(state: Any, op: Op) -> tuple[bool, Any]:
    f = op.f
    if f == "read":
        return op.value == state, state
    if f == "write":
        return True, op.value
    expected, new = op.value  # type: ignore[misc,str-unpack]  # cas [expected, new]
    return (True, new) if state == expected else (False, state)


def _register_table(op: Op) -> tuple[Any, Any]:
    if op.f == "read":
        return op.value, SAME
    if op.f == "write":
        return ANY, op.value
    expected, new = op.value  # type: ignore[misc,str-unpack]
    return expected, new


def _register_explain(state: Any, op: Op) -> str:
    if op.f == "read":
        return (f"it read {render(op.value)}, so the register must hold {render(op.value)}; "
                f"it holds {render(state)}")
    expected = op.value[0] if isinstance(op.value, tuple) else op.value
    return f"the cas needs the register to hold {render(expected)}; it holds {render(state)}"


def _written(op: Op) -> Any:
    return op.value[1] if op.f == "cas" and isinstance(op.value, tuple) else op.value


def _register_precheck(ops: Sequence[Op]) -> tuple[Op, str] | None:
    """A read (or ok cas) of a value no write invoked before it completed could produce."""
    first_write: dict[Any, int] = {None: -1}
    get = first_write.get
    for op in ops:
        f = op.f
        if f == "write":
            v = op.value
        elif f == "cas":
            v = _written(op)
        else:
            continue
        at = get(v)
        if at is None or op.invoke_ns < at:
            first_write[v] = op.invoke_ns
    ok = Outcome.OK
    for op in ops:
        f = op.f
        if op.outcome is not ok or f == "write":
            continue
        seen = op.value if f == "read" else op.value[0]  # type: ignore[index]
        end = op.complete_ns if op.complete_ns is not None else 1 << 62
        at = get(seen)
        if at is None or at > end:  # equal times count as concurrent
            verb = "read" if f == "read" else "cas expected"
            return op, (f"it {verb} {render(seen)}, but no operation invoked before it "
                        f"completed writes {render(seen)}")
    return None


def _register_prune(ops: list[Op]) -> list[Op]:
    """Drop info writes/cas whose value nobody ever observes: leaving them out never hurts.

    Such a write, if linearized, can only be followed (before the next write) by nothing that
    observes the register, so removing it from a linearization keeps it legal.
    """
    seen: set[Any] = {None}
    add, ok = seen.add, Outcome.OK
    for op in ops:
        f = op.f
        if f == "read":
            if op.outcome is ok:
                add(op.value)
        elif f == "cas" and op.value.__class__ is tuple:
            add(op.value[0])
    info = Outcome.INFO
    return [op for op in ops
            if op.outcome is not info or op.f == "read" or _written(op) in seen]


def _register_accepts(op: Op) -> str | None:
    if op.f == "cas" and not (isinstance(op.value, tuple) and len(op.value) == 2):
        return "a cas value must be [expected, new]"
    return None


# --- set, queue, counter, mutex ---------------------------------------------------------------

def _set_step(state: frozenset[Any], op: Op) -> tuple[bool, frozenset[Any]]:
    if op.f == "add":
        return True, state | {op.value}
    seen = frozenset(op.value) if isinstance(op.value, (tuple, frozenset)) else None
    return seen == state, state


def _set_explain(state: frozenset[Any], op: Op) -> str:
    seen = frozenset(op.value) if isinstance(op.value, (tuple, frozenset)) else frozenset()
    differences = [f"{what} {render(items)}" for what, items in
                   (("missing", state - seen), ("extra", seen - state)) if items]
    return (f"it read {render(seen)}, so the set must be that; it is {render(state)}"
            + (f" ({', '.join(differences)})" if differences else ""))


def _set_accepts(op: Op) -> str | None:
    if op.f == "read" and op.outcome is Outcome.OK and not isinstance(op.value, (tuple,
                                                                                  frozenset)):
        return "a set read returns the set's elements (an array or a set)"
    return None


def _queue_step(state: tuple[Any, ...], op: Op) -> tuple[bool, tuple[Any, ...]]:
    if op.f == "enqueue":
        return True, (*state, op.value)
    if op.outcome is Outcome.INFO and op.value is None:  # dequeued something unknown, or not
        return True, state[1:]
    if op.value is None:
        return not state, state
    return (True, state[1:]) if state and state[0] == op.value else (False, state)


def _queue_explain(state: tuple[Any, ...], op: Op) -> str:
    if op.value is None:
        return f"it found the queue empty; the queue is {render(state)}"
    return (f"it dequeued {render(op.value)}, which must be at the head; the queue is "
            f"{render(state)}")


def _queue_precheck(ops: Sequence[Op]) -> tuple[Op, str] | None:
    """A value dequeued more often than it was enqueued, or before any enqueue of it began."""
    enqueues: dict[Any, list[int]] = {}
    for op in ops:
        if op.f == "enqueue":
            enqueues.setdefault(op.value, []).append(op.invoke_ns)
    taken: dict[Any, int] = {}
    for op in sorted(ops, key=lambda op: op.complete_ns or 0):
        if op.f != "dequeue" or op.outcome is not Outcome.OK or op.value is None:
            continue
        taken[op.value] = taken.get(op.value, 0) + 1
        begun = sum(1 for t in enqueues.get(op.value, ()) if t <= (op.complete_ns or 0))
        if taken[op.value] > begun:
            return op, (f"it dequeued {render(op.value)}, which had been enqueued only "
                        f"{begun} times and dequeued {taken[op.value] - 1} times before it "
                        "completed")
    return None


def _set_precheck(ops: Sequence[Op]) -> tuple[Op, str] | None:
    """A read of an element no add invoked before the read completed could have added."""
    first: dict[Any, int] = {}
    for op in ops:
        if op.f == "add" and op.invoke_ns < first.get(op.value, 1 << 62):
            first[op.value] = op.invoke_ns
    for op in ops:
        if op.f == "read" and op.outcome is Outcome.OK and isinstance(op.value, tuple):
            for v in op.value:
                if first.get(v, 1 << 62) > (op.complete_ns or 0):
                    return op, (f"it read {render(v)}, but no add of {render(v)} began before "
                                "it completed")
    return None


def _set_prune(ops: list[Op]) -> list[Op]:
    """Drop info adds of elements no read contains: applied, every later read would show them."""
    seen: set[Any] = set()
    for op in ops:
        if op.f == "read" and op.outcome is Outcome.OK and isinstance(op.value, tuple):
            seen.update(op.value)
    return [op for op in ops if op.outcome is not Outcome.INFO or op.f != "add"
            or op.value in seen]


def _queue_prune(ops: list[Op]) -> list[Op]:
    """Drop info ops that can only hurt.

    An info enqueue of a value never dequeued could, applied, only block later elements. An
    info dequeue of an unknown value that took effect removed an element nobody dequeues
    later; when every enqueued value is unique and dequeued (nothing vanished), no such
    element exists, so it took effect on an empty queue (no effect) or never.
    """
    taken = {op.value for op in ops if op.f == "dequeue" and op.outcome is Outcome.OK}
    kept = [op for op in ops if op.outcome is not Outcome.INFO or op.f != "enqueue"
            or op.value in taken]
    values = [op.value for op in kept if op.f == "enqueue"]
    if len(set(values)) == len(values) and taken.issuperset(values):
        kept = [op for op in kept if op.outcome is not Outcome.INFO or op.f != "dequeue"
                or op.value is not None]
    return kept


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, (bool, Flag))


def _counter_accepts(op: Op) -> str | None:
    if op.f != "read" and op.value is not None and not _number(op.value):
        return f"a counter's {op.f} takes a number (or null for 1)"
    return None


def _counter_step(state: Any, op: Op) -> tuple[bool, Any]:
    if op.f == "read":
        return op.value == state, state
    delta = 1 if op.value is None else op.value
    return True, state + delta


def _mutex_step(state: bool, op: Op) -> tuple[bool, bool]:
    return (not state, True) if op.f == "acquire" else (state, False)


def _mutex_explain(state: bool, op: Op) -> str:
    held = "held" if state else "free"
    need = "free" if op.f == "acquire" else "held"
    return f"{op.f} needs the lock {need}; it is {held}"


def _never(op: Op) -> bool:
    return False


def _is_write(op: Op) -> bool:
    return op.f == "write"


_REGISTER: Model[Any] = Model("cas-register", lambda: None, _register_step,
                              frozenset({"read", "write", "cas"}), explain=_register_explain,
                              precheck=_register_precheck, prune=_register_prune,
                              accepts=_register_accepts, blind=_is_write, by_value=True,
                              table=_register_table)

MODELS: dict[str, Model[Any]] = {
    "register": Model("register", lambda: None, _register_step, frozenset({"read", "write"}),
                      explain=_register_explain, precheck=_register_precheck,
                      prune=_register_prune, accepts=_register_accepts, blind=_is_write,
                      by_value=True, table=_register_table),
    "cas-register": _REGISTER,
    "multi-register": _REGISTER,
    "kv": _REGISTER,
    "set": Model("set", frozenset, _set_step, frozenset({"add", "read"}),
                 explain=_set_explain, precheck=_set_precheck, prune=_set_prune,
                 accepts=_set_accepts, by_value=True),
    "fifo-queue": Model("fifo-queue", tuple, _queue_step, frozenset({"enqueue", "dequeue"}),
                        read_only=_never, explain=_queue_explain, precheck=_queue_precheck,
                        prune=_queue_prune, by_value=True),
    "counter": Model("counter", int, _counter_step, frozenset({"read", "incr", "add"}),
                     explain=lambda s, op: f"it read {render(op.value)}; the counter is "
                                           f"{render(s)}", accepts=_counter_accepts,
                     by_value=True),
    "mutex": Model("mutex", bool, _mutex_step, frozenset({"acquire", "release"}),
                   read_only=_never, render=lambda s: "held" if s else "free",
                   explain=_mutex_explain, by_value=True),
}
MODELS["queue"] = MODELS["fifo-queue"]


def get_model(name: str) -> Model[Any]:
    """A built-in model by name; :class:`ValueError` with a suggestion for an unknown one."""
    try:
        return MODELS[name]
    except KeyError:
        raise ValueError(f"unknown model {name!r}: {suggest(name, MODELS)}") from None


def validate(model: Model[Any], ops: Sequence[Op]) -> None:
    """Raise :class:`ModelError` for the first op ``model`` cannot take (see the module doc)."""
    fs = model.fs
    if fs is not None and {op.f for op in ops} <= fs:
        fs = None  # every f is known: only accepts is left to ask
    if fs is None and model.accepts is None:
        return
    for op in ops:
        if fs is not None and op.f not in fs:
            raise ModelError(f"model {model.name!r} does not know f {op.f!r}", op,
                             suggest(op.f, fs))
        if model.accepts is not None:
            problem = model.accepts(op)
            if problem is not None:
                raise ModelError(f"{problem}, found {render(op.value)}", op,
                                 f"model {model.name!r} reads values this way")
