"""The linearizability checker: Wing & Gong's search with Lowe's memo, per partition.

A history is linearizable for a model if each ``ok`` operation, and any subset of the
``info`` operations, can be given an instant between its invocation and its completion (for
``info``: any instant after its invocation) such that applying them in the order of those
instants to the model is legal. ``fail`` operations are dropped: they did not happen. ``info``
operations that only read are dropped too: they observed nothing and changed nothing.

Per partition (P-compositionality: a history is linearizable iff every independent object's
sub-history is), :func:`_search` works on *entries*: a call node per operation and a return
node per ``ok`` operation, sorted by time (calls before returns at equal times: such ops are
concurrent), in a doubly linked list. ``info`` operations have no return node: their
completion is +infinity, so they never force anything and may stay unplaced forever; their
calls are in a second list, walked after the ``ok`` candidates and up to the first return
node's time (in one list they would lengthen every walk for the rest of the history).

Invariants of the search loop:

- the lists hold exactly the operations not yet linearized, in time order;
- ``done`` (a Python int) has bit ``i`` set iff ``ok`` operation ``i`` is linearized,
  ``crashed`` likewise for ``info`` operations (plus a flag, below), and ``state`` is the
  model state after the linearized operations in ``stack`` order;
- ``memo`` maps ``(done, state)`` to the ``crashed`` masks entered with them. A
  configuration is skipped when one entered before has the same ``done`` and ``state`` and a
  *subset* of its crashed ops (a subset of its flag, too): the one with fewer crashed ops
  placed can do everything it can (the crashed ops it did not use are still there, and
  crashed ops never force anything), so it failed or is still being explored towards
  whatever success there is. With no crashed ops this is Lowe's memo of exact
  configurations; it makes the search a walk over distinct configurations, not orders;
- walking from the head, a call node is a candidate to linearize next (its invocation precedes
  every remaining completion); reaching a return node means that operation must be placed
  before anything later and none of the candidates before it worked: backtrack (pop the last
  linearized operation, relink it — dancing links, O(1) — and try the node after it);
- the candidates of a configuration are walked in three passes: reads, then the other ``ok``
  operations, then crashed ones — so that configurations with few crashed ops are entered
  first and dominate the others;
- success when no ``ok`` operation remains (unplaced ``info`` operations never happened);
  failure when a return node is reached with an empty stack.

Three prunings shrink the search to linearizations of a normal form, which exists whenever
any linearization does (they are promises the model makes, see
:mod:`faultlab.check.models`). A shortest linearization (fewest crashed ops) is in that form
after the rearrangements below, none of which lengthens it:

- *greedy reads*: a candidate that only reads (``read_only``: it leaves every state as it
  was) and is legal now is placed at once, and nothing else is tried in its place: moving
  it from later to here keeps every other step's state and respects real time (its
  invocation precedes every remaining completion). When that fails, the configuration fails;
- *just in time*: a crashed op is never placed right before a *blind* op (legal in every
  state, its new state ignoring the old: a register's write), and only where some candidate
  that is not blind is legal in the state it leaves. Deleting a crashed op placed right
  before a blind op keeps a linearization legal and shortens it, so a crashed write is only
  placed where something observes it next. Bit ``n`` of ``crashed`` says the last op placed
  crashed;
- *symmetry*: crashed ops alike (same ``f`` and ``value``, for a ``by_value`` model) are
  interchangeable, and the one invoked first may take the place of any later one; so they
  are placed in invocation order (``twin``), which makes the sets of crashed ops used
  prefixes of each class instead of arbitrary subsets (and makes the dominance above hold
  class by class: the smaller prefix can stand in for the larger).

Two more rules act on the memo's dominance (``SUBSUME``); both are sound by one argument.
Call a linearization *admissible* if the search may produce it (each step obeys the rules
above), and say the search *enters* a configuration when it puts it in the memo; every
entered configuration is searched from, or skipped because one dominating it was entered.
If some admissible ``L`` exists but the search fails, take the one whose part after its last
entered prefix is shortest. The configuration ``B`` after that prefix and one more step was
generated and skipped because of an entered ``A``; if ``A`` has an admissible completion no
longer than ``L``'s from ``B``, then ``A``'s path and that completion is an admissible
linearization whose part after its last entered prefix is shorter: a contradiction. So a
dominance rule is sound when it promises that completion:

- *by levels* (``LEVELS``): a configuration entered by placing a crashed op is searched
  only after every configuration with fewer crashed ops placed (a list per level; moving to one
  undoes and redoes the dancing links along the tree path between the two, short since
  consecutive ones are mostly siblings: rebuilding the lists in O(n) made 1,000-op
  partitions crawl); when its turn comes and the
  memo no longer holds its mask (a subset replaced it), it is skipped. This changes only
  the order, which the argument never uses: in depth-first order a deep configuration is
  often reached first with crashed ops it did not need and searched in vain before the
  cheaper one replaces it (on the benchmark's hard histories 94–97% of configurations).
  But a linearizable history is found faster depth first, so the search goes by levels
  only after ``DEPTH_FIRST`` configurations per op left it undecided (from scratch: the
  memo of an abandoned depth-first search holds configurations not yet searched);
- *covering* (``COVER``, with a step table): ``A`` = (done, state, mask ``a``) dominates
  ``B`` = (done, state, mask ``b``) when ``a`` has no flag, and the crashed ops placed in
  ``A`` and not in ``B`` all need a state (a register's cas) and can be matched one to one
  with blind ops (writes) placed in ``B`` and not in ``A`` that leave the same state. Proof:
  take ``B``'s admissible completion ``s``, and in ``s`` put in place of each matched op of
  ``A``'s (unplaced in ``B``, so ``s`` may use it) its blind partner (unplaced in ``A``, and
  a candidate from ``B``'s configuration on: it was placed before it with a subset of the
  ``ok`` ops done): it is legal in every state and leaves the same one, so every step
  stays legal with the same states. ``A``'s twins and ``B``'s are prefixes of each class,
  so choosing partners in invocation order keeps the twin order. The sequence is valid
  from ``A`` and no longer; it may break the just-in-time rule (a crashed op now right
  before a blind partner), which deleting that crashed op repairs without lengthening it,
  and, because ``A`` has no flag, a deletion at the very start is allowed too — which is
  why a flagged ``A`` covers nothing. A valid completion from an unflagged configuration
  can be brought to an admissible one without lengthening it, as from the start (the
  rearrangements above). Plain subset dominance is the case with nothing to match.

A dead end right after a crashed op is an artefact of the second pruning, not evidence, so
the dead end reported is taken among the others: the one with the most ``ok`` ops placed.

Cheap pre-passes decide many partitions without search: the model's ``precheck`` (e.g. a
read of a value no write invoked before it completed: an immediate violation), and
sequential partitions (no two operations overlap, no ``info`` except possibly the last),
which have exactly one order and are replayed in linear time. Searches of different
partitions are interleaved (each yields every few thousand steps; a few at a time, smallest
partitions first) so that one hard partition does not hide a quick violation elsewhere; the
first violation ends the check. A time and
memory budget ends it with :attr:`Verdict.UNKNOWN` and the reason, never a hang. The memory
figure is an estimate of the memo's size (configurations entered × (bitset bytes +
overhead)).

On failure the search reports its deepest dead end: the linearizable prefix it found with
the most ``ok`` operations, the operation whose completion came before it could be placed,
and every candidate with the reason it cannot go next (from the model's ``explain``).

Values reach the model in canonical form (:func:`faultlab.history.values.canonical`), so any
JSON value can be written, read or held. A history with nothing to check — no client
operation that succeeded or may have — is :attr:`Verdict.UNKNOWN`, never vacuously valid:
an empty or all-failed history proves nothing.
"""

from __future__ import annotations

import gc
import itertools
import operator
import time
from collections import deque
from collections.abc import Callable, Generator, Hashable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from faultlab.check.models import ANY, SAME, Model, by_key, validate
from faultlab.check.result import (
    Anomaly,
    AnomalyKind,
    CheckResult,
    ModelError,
    Stuck,
    Verdict,
    Violation,
)
from faultlab.history import History, Op, Outcome
from faultlab.history.values import canonical_op, render

__all__ = ["Budget", "check_linearizable"]

MEMO = True
_SLICE = 4096  # search steps between yields to the scheduler (budget checks, interleaving)
_ACTIVE = 4  # searches taking turns at once
JIT_FROM = 8  # crashed ops in a partition from which the just-in-time rule is used
SUBSUME = True  # skip configurations dominated by one entered before (see _search)
LEVELS = True  # crashed ops placed level by level: fewer first (see _search)
DEPTH_FIRST = 20  # configurations per op searched depth first before going by levels
COVER = True  # with a step table, a blind crashed op covers one leaving the same state
GREEDY_READS = True  # a legal read is placed at once, the only choice tried
_ENTRY_OVERHEAD = 120  # bytes per memo entry besides the bitset (tuple, set slot, state ref)


@dataclass(frozen=True)
class Budget:
    """How long the search may run, and how much memory its memo may take, before "unknown".

    Invariant: ``time_s`` is a number ``>= 0`` (``inf``: no limit; ``0``: decide only what
    needs no search) and ``memory_bytes >= 0``; NaN or a negative figure is a ``ValueError``,
    since it would silently turn every verdict into "unknown".
    """

    time_s: float = 60.0
    memory_bytes: int = 1 << 30

    def __post_init__(self) -> None:
        if not self.time_s >= 0:  # also false for NaN
            raise ValueError(f"a time budget is a number of seconds >= 0, not {self.time_s}")
        if not self.memory_bytes >= 0:
            raise ValueError(f"a memory budget is a number of bytes >= 0, not "
                             f"{self.memory_bytes}")


@dataclass
class _Dead:
    """The deepest dead end of a failed search."""

    prefix: list[int]  # op indexes in linearization order
    state: Any
    must_complete: int


_GAVE_UP = _Dead([], None, -1)  # a search with a cap of configurations that reached it

# Yields the memo's size (entries); returns (the dead end or None if linearizable, entries).
_Search = Generator[int, None, "tuple[_Dead | None, int]"]


def check_linearizable(ops: Iterable[Op], model: Model[Any], budget: Budget | None = None, *,
                       clock: Callable[[], float] = time.monotonic) -> CheckResult:
    """Decide whether ``ops`` (a history) is linearizable for ``model``.

    Raises :class:`ModelError` when operations do not fit the model (bad input); every other
    outcome is a verdict in the returned :class:`CheckResult`.
    """
    # The collector of reference cycles is paused while checking: the search makes none
    # (its tuples and ints are freed by reference counting), and with a big history alive
    # each full collection would walk every operation again (a tenth of the time).
    paused = gc.isenabled()
    gc.disable()
    try:
        return _check(ops, model, budget or Budget(), clock)
    finally:
        if paused:
            gc.enable()


def _check(ops: Iterable[Op], model: Model[Any], budget: Budget,
           clock: Callable[[], float]) -> CheckResult:
    started = clock()
    given: Sequence[Op] = (ops.ops if isinstance(ops, History) else ops
                           if isinstance(ops, (list, tuple)) else list(ops))
    kept = _taken(given)
    validate(model, kept)
    # Crashed reads are dropped while partitioning, and the list let go then: on a history
    # of a million operations each list of them is 8 MB more at the peak.
    parts = _partition(kept, model)
    del kept
    count = sum(map(len, parts.values()))
    stats = {"partitions": len(parts), "decided_without_search": 0, "configurations": 0}
    name = f"linearizable[{model.name}]"

    def result(verdict: Verdict, violation: Violation | None = None, reason: str = ""
               ) -> CheckResult:
        what = f"key {violation.partition}" if violation and violation.partition else \
            "the history"
        anomalies = () if violation is None else (Anomaly(
            AnomalyKind.NOT_LINEARIZABLE, f"{what} is not linearizable",
            (violation.must_complete,)),)
        return CheckResult(name, verdict, count, anomalies, violation, reason,
                           clock() - started, stats)

    if not count:
        return result(Verdict.UNKNOWN, reason="nothing to check: " + _nothing(given))

    waiting: deque[tuple[Hashable, list[Op]]] = deque()
    # Smallest partitions first: a violation in a small one is found before a big one starts.
    for key, part in sorted(parts.items(), key=lambda item: len(item[1])):
        if model.prune is not None:
            part = model.prune(part)
        found = model.precheck(part) if model.precheck is not None else None
        if found is not None:
            stats["decided_without_search"] += 1
            op, why = found
            return result(Verdict.INVALID, Violation(_name(key, model), (), (),
                                                     "(not searched)", op, (Stuck(op, why),)))
        if _sequential(part):
            stats["decided_without_search"] += 1
            dead = _replay(part, model)
            if dead is not None:
                return result(Verdict.INVALID, _explain(key, part, model, dead))
            continue
        waiting.append((key, part))

    # At most _ACTIVE searches take turns (the others wait, holding no memo): enough that
    # one hard partition does not hide a quick violation in the next ones, few enough that
    # a thousand keys do not hold a thousand memos at once.
    searches: deque[tuple[Hashable, list[Op], _Search]] = deque()
    memory: dict[Hashable, int] = {}  # memo entries of running searches
    try:
        while searches or waiting:
            while waiting and len(searches) < _ACTIVE:
                key, part = waiting.popleft()
                searches.append((key, part, _search(part, model)))
            key, part, search = searches.popleft()
            try:
                memory[key] = next(search)
            except StopIteration as stop:
                memory.pop(key, None)
                dead, configurations = stop.value
                stats["configurations"] += configurations
                if dead is not None:
                    return result(Verdict.INVALID, _explain(key, part, model, dead))
                continue
            searches.append((key, part, search))
            elapsed = clock() - started
            used = sum(n * (len(parts[k]) // 8 + _ENTRY_OVERHEAD) for k, n in memory.items())
            if elapsed <= budget.time_s and used <= budget.memory_bytes:
                continue
            stats["configurations"] += sum(memory.values())
            undecided = (f"with {len(searches) + len(waiting)} of {len(parts)} partitions "
                         "undecided "
                         "(no violation found so far)")
            if elapsed > budget.time_s:
                return result(Verdict.UNKNOWN, reason=(
                    f"time budget of {budget.time_s:g} s ran out {undecided}"))
            return result(Verdict.UNKNOWN, reason=(
                f"memory budget of {budget.memory_bytes / 2**20:.0f} MiB ran out (memo "
                f"≈{used / 2**20:.0f} MiB) {undecided}"))
    finally:
        for _, _, search in searches:
            search.close()
    return result(Verdict.VALID)


def _nothing(ops: Sequence[Op]) -> str:
    """Why no operation of ``ops`` is left to check, in a few words."""
    if not ops:
        return "no operations (was the recording lost?)"
    clients = [op for op in ops if op.is_client]
    if not clients:
        return f"all {len(ops)} operations are by fault injectors, none by a client"
    failed = sum(op.outcome is Outcome.FAIL for op in clients)
    return (f"of {len(clients)} client operations, {failed} failed and "
            f"{len(clients) - failed} are reads whose outcome is unknown; none took effect")


def _name(key: Hashable, model: Model[Any]) -> str:
    """How a partition is named to people: its key as JSON-like text, "" for the whole."""
    return "" if key is None or model.partition is None else render(key)


_PLAIN = frozenset({int, float, str, type(None)})  # values canonical as they are


def _taken(ops: Sequence[Op]) -> list[Op]:
    """The client operations that took effect or may have, values in canonical form."""
    fail, plain = Outcome.FAIL, _PLAIN
    kept: list[Op] = []
    append = kept.append
    for op in ops:
        if op.outcome is fail or not (op.process.__class__ is int or op.is_client):
            continue
        append(op if op.value.__class__ in plain else canonical_op(op))
    return kept


def _partition(ops: list[Op], model: Model[Any]) -> dict[Hashable, list[Op]]:
    """The ops to search, by partition, sorted; crashed reads left out (they changed
    nothing and observed nothing)."""
    parts: dict[Hashable, list[Op]] = {}
    split = model.partition
    info, read_only = Outcome.INFO, model.read_only
    if split is None:
        whole = [op for op in ops if op.outcome is not info or not read_only(op)]
        if whole:
            parts[None] = whole
    else:
        get = parts.get
        for op in ops:
            if op.outcome is info and read_only(op):
                continue
            key = op.key if split is by_key else split(op)
            part = get(key)
            if part is None:
                parts[key] = [op]
            else:
                part.append(op)
    order = operator.attrgetter("invoke_ns", "index")
    for part in parts.values():
        part.sort(key=order)
    return parts


def _sequential(part: list[Op]) -> bool:
    """No two operations overlap, so the only order is the order of invocation."""
    for a, b in itertools.pairwise(part):
        if a.complete_ns is None or a.outcome is Outcome.INFO or a.complete_ns >= b.invoke_ns:
            return False
    return True


def _replay(part: list[Op], model: Model[Any]) -> _Dead | None:
    state = model.init()
    for i, op in enumerate(part):
        legal, new = _step(model, state, op)
        if legal:
            state = new
        elif op.outcome is not Outcome.INFO:  # the last op may be info: it need not happen
            return _Dead(list(range(i)), state, i)
    return None


def _step(model: Model[Any], state: Any, op: Op) -> tuple[bool, Any]:
    try:
        return model.step(state, op)
    except Exception as exc:
        raise ModelError(f"model {model.name!r} cannot apply it in state "
                         f"{render(state, limit=60)}: {exc}", op,
                         "the model's step raised: fix the model, or the operation") from exc


def _search(ops: Sequence[Op], model: Model[Any]) -> _Search:
    """The Wing–Gong–Lowe search over one partition (``ops`` sorted by invocation, then
    index); see the module docstring. Depth first up to ``DEPTH_FIRST`` configurations per
    op (a linearizable history is mostly found so: by levels, every configuration with
    fewer crashed ops placed comes first, which on 1,000-op key-value partitions cost twice
    the configurations and more), then, undecided, by levels from scratch."""
    if not (LEVELS and SUBSUME):
        return (yield from _walk(ops, model, False, 0))
    configs = 0
    if DEPTH_FIRST:
        dead, configs = yield from _walk(ops, model, False, DEPTH_FIRST * len(ops))
        if dead is not _GAVE_UP:
            return dead, configs
    dead, more = yield from _walk(ops, model, True, 0)
    return dead, configs + more


def _walk(ops: Sequence[Op], model: Model[Any], by_levels: bool, cap: int) -> _Search:
    """The search, by levels or depth first; with ``cap``, it gives up (:data:`_GAVE_UP`)
    past that many configurations."""
    n = len(ops)
    ok = [op.outcome is Outcome.OK and op.complete_ns is not None for op in ops]
    subsume = SUBSUME
    # Two chains in one pair of arrays: ok ops' calls and returns (head 2n) and, with
    # dominance, crashed ops' calls (head 2n + 2), which stay candidates from their
    # invocation on and would otherwise lengthen every walk; without dominance they are in
    # the first chain, as in the plain search. Node i < n: op i's call; n + i: its return.
    head, tail, chead, ctail = 2 * n, 2 * n + 1, 2 * n + 2, 2 * n + 3
    nxt = [0] * (2 * n + 4)
    prv = [0] * (2 * n + 4)
    when = [0] * (2 * n)  # a crashed op's invocation, an ok op's completion (return node)
    entries = [(op.invoke_ns, 0, i) for i, op in enumerate(ops) if ok[i] or not subsume]
    entries += [(op.complete_ns or 0, 1, n + i) for i, op in enumerate(ops) if ok[i]]
    entries.sort()
    # (ops come sorted by invocation, so the crashed ones are in order already)
    calls = [i for i in range(n) if not ok[i]] if subsume else []
    for first, chain, last in ((head, [node for _, _, node in entries], tail),
                               (chead, calls, ctail)):
        for a, b in itertools.pairwise([first, *chain, last]):
            nxt[a], prv[b] = b, a
    for i, op in enumerate(ops):
        if ok[i]:
            when[n + i] = op.complete_ns or 0
        else:
            when[i] = op.invoke_ns
    # twin[i]: the crashed op alike to crashed op i invoked just before it, which must be
    # linearized before i is tried (symmetry); -1 for none. Bit n of the configuration says
    # the last op linearized crashed, so a blind op may not come next (just in time).
    twin = [-1] * n
    if model.by_value:
        alike: dict[tuple[str, Any], int] = {}
        for i, op in enumerate(ops):
            if not ok[i]:
                what = (op.f, op.value)
                twin[i] = alike.get(what, -1)
                alike[what] = i
    # With few crashed ops the just-in-time rule costs more (the flag splits configurations,
    # and a greedy crashed op before a write is a dead end more) than it saves.
    jit = model.blind is not None and n - sum(ok) >= JIT_FROM
    blind = [model.blind(op) for op in ops] if jit else [False] * n  # type: ignore[misc]

    step = model.step
    # The table in two flat lists: a tuple per op would be a container per op for the
    # garbage collector to walk (on a million-op history, whole collections mid-search).
    table = model.table
    needs: list[Any] = []
    leaves: list[Any] = []
    if table is not None:
        for op in ops:
            need, leave = table(op)
            needs.append(need)
            leaves.append(leave)
    # Covering (see the module doc): per state a crashed op may leave, the crashed ops that
    # need one state and leave it (cover_weak) and the blind ones that leave it (cover_strong).
    cover_weak: list[int] = []
    cover_strong: list[int] = []
    coverable = 0  # every crashed op in some cover_weak mask
    if COVER and subsume and table is not None:
        groups: dict[Any, list[int]] = {}
        for i in range(n):
            if not ok[i] and leaves[i] is not SAME:
                masks = groups.setdefault(leaves[i], [0, 0])
                masks[needs[i] is ANY] |= 1 << i
        for weak, strong in groups.values():
            if weak and strong:
                cover_weak.append(weak)
                cover_strong.append(strong)
                coverable |= weak
    cover_pairs = list(zip(cover_weak, cover_strong, strict=True))
    # An ok op that only reads (it leaves every state as it was) and is legal now may be
    # placed at once, before any other candidate (greedy reads, see the module doc).
    read_only = model.read_only
    reads = ([o and read_only(op) for o, op in zip(ok, ops, strict=True)] if GREEDY_READS
             else [False] * n)
    state = model.init()
    done = 0  # bit i: ok op i is linearized
    crashed = 0  # bit i: crashed op i is linearized; bit n (flag): the last op placed crashed
    flag = 1 << n if jit else 0
    # (done, state) -> the crashed masks entered with them: an int, or several (a list: an
    # antichain under inclusion, dominated masks dropped; without dominance a set).
    memo: dict[tuple[int, Any], Any] = {}
    configs = 0  # configurations entered (the memo's size)
    # The stack as a persistent chain (op, state before, done, crashed before, forced, limit,
    # rest): a snapshot is one reference. forced: it was a greedy read, the only choice
    # tried; limit: the first return node when a crashed op was placed (its completion
    # bounds the crashed ops that are candidates).
    stack: tuple[int, Any, int, int, bool, int, Any] | None = None
    remaining = sum(ok)
    best_ok = -remaining - 1  # the most ok ops placed at a dead end (crashed ops aside)
    best: tuple[Any, Any, int] = (None, None, 0)
    budget = _SLICE
    # By levels (with dominance): a configuration entered by placing a crashed op waits in
    # ``later`` until every one with fewer crashed ops placed has been searched; ``base``: the
    # stack of the configuration being searched from, below which nothing is undone.
    levels = by_levels and subsume
    now: list[Any] = []
    later: list[Any] = []
    base: Any = None
    oks = remaining

    mask = (1 << n) - 1  # the crashed ops' bits, without the flag

    def move(here: Any, there: Any) -> None:
        """The lists from the configuration the chain ``here`` ends in to the one ``there``
        ends in: undo ``here``'s ops down to the part both share, redo ``there``'s above it
        (consecutive configurations of a level are near each other: often siblings)."""
        up = here[2].bit_count() + (here[3] & mask).bit_count() + 1 if here else 0
        down = there[2].bit_count() + (there[3] & mask).bit_count() + 1 if there else 0
        redo = []
        while up > down or here is not there:
            if up >= down:
                i = here[0]
                if ok[i]:
                    ret = i + n
                    nxt[prv[ret]] = ret
                    prv[nxt[ret]] = ret
                nxt[prv[i]] = i
                prv[nxt[i]] = i
                here = here[6]
                up -= 1
            if down > up:
                redo.append(there[0])
                there = there[6]
                down -= 1
        for i in reversed(redo):
            before, after = prv[i], nxt[i]
            nxt[before], prv[after] = after, before
            if ok[i]:
                ret = i + n
                before, after = prv[ret], nxt[ret]
                nxt[before], prv[after] = after, before

    # The pass of the walk over the candidates: 0 for a legal read (placed at once, the only
    # choice), 1 for the other ok ops (and, without dominance, crashed ops), 2 for crashed
    # ops: last, so that configurations with fewer crashed ops are entered first and
    # dominate the others.
    first = 0 if any(reads) else 1
    phase = first
    node = nxt[head]
    limit = tail  # in pass 2: the first return node; crashed ops invoked after it wait
    deadline = 0  # its time
    try:
        while remaining:
            budget -= 1
            if not budget:
                budget = _SLICE
                if cap and configs > cap:
                    return _GAVE_UP, configs
                yield configs
            if node < n:
                if phase == 0:
                    if not reads[node]:
                        node = nxt[node]
                        continue
                    if table is None:
                        legal, new = step(state, ops[node])
                    else:
                        need = needs[node]
                        legal, new = need is ANY or need == state, state
                    if not legal:
                        node = nxt[node]
                        continue
                    forced = True
                elif ok[node]:
                    if reads[node] or (crashed & flag and blind[node]):
                        node = nxt[node]  # (a read is not legal: the scan found none)
                        continue
                    if table is None:
                        legal, new = step(state, ops[node])
                    else:
                        need, new = needs[node], leaves[node]
                        legal = need is ANY or need == state
                        if new is SAME:
                            new = state
                    if not legal:
                        node = nxt[node]
                        continue
                    forced = False
                else:
                    if phase == 2 and when[node] > deadline:
                        node = ctail  # invoked after the first completion: not yet
                        continue
                    if (twin[node] >= 0 and not crashed >> twin[node] & 1) or (
                            crashed & flag and blind[node]):
                        node = nxt[node]
                        continue
                    if table is None:
                        legal, new = step(state, ops[node])
                    else:
                        need, new = needs[node], leaves[node]
                        legal = need is ANY or need == state
                        if new is SAME:
                            new = state
                    if legal and flag:
                        # Just in time: the op after a crashed one is a candidate now
                        # (placing a crashed op reveals none), not blind, and legal in the
                        # state it leaves.
                        legal = False
                        other = nxt[head]
                        while True:
                            if other >= n:
                                if other < head and subsume:  # a return node: on to the
                                    other = nxt[chead]  # crashed ops invoked before it
                                    continue
                                break
                            if subsume and not ok[other] and when[other] > deadline:
                                break
                            if other != node and not blind[other] and (
                                    (needs[other] is ANY or needs[other] == new)
                                    if table is not None else step(new, ops[other])[0]):
                                legal = True
                                break
                            other = nxt[other]
                    if not legal:
                        node = nxt[node]
                        continue
                    forced = False
                if ok[node]:
                    grown, more = done | (1 << node), crashed & ~flag
                else:
                    grown, more = done, crashed | (1 << node) | flag
                key = (grown, new)
                seen = memo.get(key)
                fresh = True
                if seen is None:
                    memo[key] = more
                elif seen.__class__ is int:
                    if (seen & more == seen if subsume else seen == more) or (
                            coverable and _covers(seen, more, coverable, cover_pairs, flag)):
                        fresh = False
                    elif subsume:
                        memo[key] = more if more & seen == more else [seen, more]
                    else:
                        memo[key] = {seen, more}
                elif subsume:
                    if any(m & more == m for m in seen) or (coverable and any(
                            _covers(m, more, coverable, cover_pairs, flag) for m in seen)):
                        fresh = False
                    else:
                        seen[:] = [m for m in seen if m & more != more]
                        seen.append(more)
                elif more in seen:
                    fresh = False
                else:
                    seen.add(more)
                if fresh:
                    configs += 1
                    if levels and not ok[node]:
                        # By levels: entered after every configuration with fewer crashed
                        # ops placed (see the module doc).
                        later.append((node, state, done, crashed, limit, stack, new, grown,
                                      more))
                        node = nxt[node]
                        continue
                    stack = (node, state, done, crashed, forced, limit, stack)
                    state, done, crashed = new, grown, more
                    before, after = prv[node], nxt[node]
                    nxt[before], prv[after] = after, before
                    if ok[node]:
                        ret = node + n
                        before, after = prv[ret], nxt[ret]
                        nxt[before], prv[after] = after, before
                        remaining -= 1
                    node = nxt[head]
                    phase = first
                    continue
                if not forced:
                    node = nxt[node]
                    continue
                # The greedy read leads where a search has been: this configuration fails.
            elif phase == 0:
                node = nxt[head]  # no legal read: try the other candidates
                phase = 1
                continue
            elif phase == 1 and subsume:
                limit, deadline = node, when[node]  # then crashed ops invoked before it
                node = nxt[chead]
                phase = 2
                continue
            else:
                # The first return node: that op must be placed before anything later, and
                # could not be. (Right after a crashed op, a blind op's return is a dead end
                # of the pruning only, not evidence: it could go next without the crashed
                # op.)
                if -remaining > best_ok and not crashed & flag:
                    best_ok, best = -remaining, (stack, state, (
                        limit if phase == 2 else node) - n)
            # Backtrack: undo the last op placed; past a greedy read, its configuration failed.
            while stack is not base:
                i, state, done, crashed, forced, limit, stack = stack  # type: ignore[misc]
                if ok[i]:
                    ret = i + n
                    nxt[prv[ret]] = ret
                    prv[nxt[ret]] = ret
                    remaining += 1
                nxt[prv[i]] = i
                prv[nxt[i]] = i
                if not forced:
                    break
            else:
                # Every way on from this level's configuration failed: on to the next one
                # (the next level's when this one is done) still in the memo.
                while now or later:
                    if not now:
                        now, later = later, now
                    i, state, done, crashed, limit, stack, new, grown, more = now.pop()
                    seen = memo[grown, new]
                    if seen != more if seen.__class__ is int else more not in seen:
                        continue  # dominated by a configuration entered since
                    stack = (i, state, done, crashed, False, limit, stack)
                    move(base, stack)
                    base, state, done, crashed = stack, new, grown, more
                    remaining = oks - done.bit_count()
                    node = nxt[head]
                    phase = first
                    break
                else:
                    break  # every way from the start failed
                continue
            node = nxt[i]
            if ok[i] or not subsume:
                phase = 1
            else:
                phase, deadline = 2, when[limit]
        else:
            return None, configs
    except Exception:
        _step(model, state, ops[node])  # raises a ModelError naming the operation
        raise
    chain, dead_state, must = best
    prefix: list[int] = []
    while chain is not None:
        prefix.append(chain[0])
        chain = chain[6]
    prefix.reverse()
    return _Dead(prefix, dead_state, must), configs


def _covers(seen: int, more: int, coverable: int, pairs: list[tuple[int, int]], flag: int
            ) -> bool:
    """The configuration with crashed mask ``seen`` dominates the one with ``more`` (same
    ``done`` and state) by covering: each crashed op placed in ``seen`` only is one that needs
    a state, and the ops placed in ``more`` only hold as many blind ops leaving the same
    state (see the module doc)."""
    extra = seen & ~more
    if extra & ~coverable or seen & flag:
        return False
    spare = more & ~seen
    return all((extra & weak).bit_count() <= (spare & strong).bit_count()
               for weak, strong in pairs)


def _explain(key: Hashable, part: Sequence[Op], model: Model[Any], dead: _Dead) -> Violation:
    """The dead end in words: prefix with states, and why each candidate cannot go next."""
    state = model.init()
    states: list[str] = []
    for i in dead.prefix:
        state = model.step(state, part[i])[1]
        states.append(model.render(state))
    placed = set(dead.prefix)
    must = part[dead.must_complete]
    deadline = must.complete_ns if must.complete_ns is not None else 1 << 62
    stuck: list[Stuck] = []
    for i, op in enumerate(part):
        if i in placed or op.invoke_ns > deadline:
            continue
        legal, _ = model.step(dead.state, op)
        if legal:
            reason = "it could go next, but every way on from there fails later"
        elif model.explain is not None:
            reason = model.explain(dead.state, op)
        else:
            reason = f"not legal in state {model.render(dead.state)}"
        stuck.append(Stuck(op, reason))
    stuck.sort(key=lambda s: (s.op is not must, s.op.invoke_ns))
    return Violation(_name(key, model), tuple(part[i] for i in dead.prefix), tuple(states),
                     model.render(dead.state), must, tuple(stuck))
