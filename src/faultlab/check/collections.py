"""Linear-time checkers for sets, queues and unique ids (no search).

Each works per key (ops without a key form one object), considers client operations only,
and returns :attr:`Verdict.INVALID` with one :class:`Anomaly` per finding (at most
:data:`MAX_PER_KIND` per kind; ``stats`` counts them all), :attr:`Verdict.UNKNOWN` when the
history cannot tell (a set never read), else :attr:`Verdict.VALID`.

Set (``add`` e, ``read`` → collection): *lost*: an acknowledged add missing from the final
read (the ok read invoked last) although it was acknowledged before that read began;
*stale read*: a read that misses an add acknowledged before the read began, which the final
read does contain; *unexpected*: a read containing an element never added (or only by failed
adds), or read before any add of it was invoked; *duplicate*: a read listing an element twice.
Cost: O(total size of the reads + adds).

Queue (``enqueue`` v, ``dequeue`` → v or null when empty), as multisets: *unexpected*: a
value dequeued but never enqueued (failed enqueues do not count); *duplicate*: dequeued more
often than enqueued; *lost*: enqueued with ``ok`` but never dequeued, which assumes the
workload drained the queue at the end (pass ``drained=False`` otherwise).

Unique ids (``generate`` → id): *duplicate*: an id returned by more than one ok operation.

Input contract (a :class:`ModelError`, located at the operation's file position, when
broken): every client operation's ``f`` is one the checker reads (e.g. ``add`` and ``read``
for a set: a history of another object is not silently taken for an empty one), and a set
read returns a collection (an array or a set). Elements, queue values and ids may be any
JSON value, compared in canonical form (:mod:`faultlab.history.values`: objects are
hashable, ``true`` is not ``1``). A history with no operation the checker reads is
:attr:`Verdict.UNKNOWN` ("nothing to check"), never vacuously valid.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Collection, Hashable, Iterable
from typing import Any

from faultlab.check.result import Anomaly, AnomalyKind, CheckResult, ModelError, Verdict
from faultlab.history import Op, Outcome
from faultlab.history.errors import suggest
from faultlab.history.values import canonical_op, render

__all__ = ["MAX_PER_KIND", "check_queue", "check_set", "check_unique_ids"]

MAX_PER_KIND = 100


class _Findings:
    def __init__(self, name: str, ops: list[Op]) -> None:
        self.name, self.ops, self.started = name, ops, time.monotonic()
        self.anomalies: list[Anomaly] = []
        self.counts: Counter[str] = Counter()
        self.unknown = ""

    def add(self, kind: AnomalyKind, key: Hashable, message: str, ops: Iterable[Op]) -> None:
        self.counts[kind.value] += 1
        if self.counts[kind.value] <= MAX_PER_KIND:
            where = "" if key is None else f"key {render(key)}: "
            self.anomalies.append(Anomaly(kind, where + message, tuple(ops)))

    def result(self) -> CheckResult:
        verdict = (Verdict.INVALID if self.anomalies else
                   Verdict.UNKNOWN if self.unknown else Verdict.VALID)
        return CheckResult(self.name, verdict, len(self.ops), tuple(self.anomalies), None,
                           self.unknown, time.monotonic() - self.started, dict(self.counts))


def by_key(ops: Iterable[Op]) -> dict[Hashable, list[Op]]:
    groups: dict[Hashable, list[Op]] = {}
    for op in ops:
        if op.is_client:
            groups.setdefault(op.key, []).append(op)
    return groups


def prepare(checker: str, ops: Iterable[Op], fs: Collection[str]
            ) -> tuple[dict[Hashable, list[Op]], _Findings]:
    """The client operations of ``ops`` by key, with canonical values, and the findings to
    fill; :class:`ModelError` for an operation whose ``f`` the checker does not read."""
    groups: dict[Hashable, list[Op]] = {}
    for op in ops:
        if not op.is_client:
            continue
        if op.f not in fs:
            raise ModelError(f"the {checker} checker reads only f " + ", ".join(
                repr(f) for f in sorted(fs)), op, suggest(op.f, fs))
        groups.setdefault(op.key, []).append(canonical_op(op))
    found = _Findings(checker, [op for group in groups.values() for op in group])
    if not any(op.outcome is not Outcome.FAIL for op in found.ops):
        found.unknown = "nothing to check: " + (
            f"every one of the {len(found.ops)} client operations failed" if found.ops else
            "no client operations (was the recording lost?)")
    return groups, found


def _elements(value: Any) -> list[Any]:
    return list(value) if isinstance(value, (tuple, frozenset, list)) else []


def fmt(values: Iterable[Any], limit: int = 10) -> str:
    """Values as JSON-like text, sorted, at most ``limit`` of them."""
    items = sorted(render(v, limit=60) for v in values)
    text = ", ".join(items[:limit])
    return text + (f", ... ({len(items)} in all)" if len(items) > limit else "")


def check_set(ops: Iterable[Op], *, add: str = "add", read: str = "read") -> CheckResult:
    """Lost, stale, unexpected and duplicated elements of a grow-only set (see module doc)."""
    groups, found = prepare("set", ops, {add, read})
    for group in groups.values():
        for op in group:
            if op.f == read and op.outcome is Outcome.OK and not isinstance(
                    op.value, (tuple, frozenset)):
                raise ModelError(f"a set read returns the set's elements (an array or a set), "
                                 f"found {render(op.value)}", op,
                                 "is this the history of a set?")
    for key, group in groups.items():
        _check_one_set(found, key, group, add, read)
    return found.result()


def _check_one_set(found: _Findings, key: Hashable, ops: list[Op], add: str, read: str
                   ) -> None:
    first_invoke: dict[Any, int] = {}
    acked: dict[Any, Op] = {}  # element -> its earliest acknowledged add
    for op in ops:
        if op.f != add or op.outcome is Outcome.FAIL:
            continue
        if op.value not in first_invoke or op.invoke_ns < first_invoke[op.value]:
            first_invoke[op.value] = op.invoke_ns
        if op.outcome is Outcome.OK and op.complete_ns is not None and (
                op.value not in acked or op.complete_ns < acked[op.value].complete_ns):  # type: ignore[operator]
            acked[op.value] = op
    reads = sorted((op for op in ops if op.f == read and op.outcome is Outcome.OK),
                   key=lambda op: (op.invoke_ns, op.index))
    if not reads:
        if acked and not found.unknown:
            found.unknown = "the set was never read, so lost elements cannot be told"
        return
    final = reads[-1]
    final_set = set(_elements(final.value))
    by_ack = sorted(acked.values(), key=lambda op: op.complete_ns or 0)
    lost = [op for op in by_ack if op.complete_ns is not None
            and op.complete_ns < final.invoke_ns and op.value not in final_set]
    if lost:
        found.add(AnomalyKind.LOST, key, f"{len(lost)} acknowledged adds missing from the "
                  f"final read #{final.index}: {fmt(op.value for op in lost)}", [final, *lost])
    done = 0  # by_ack[:done] were acknowledged before the current read began
    for r in reads:
        elements = _elements(r.value)
        counts = Counter(elements)
        twice = [v for v, c in counts.items() if c > 1]
        if twice:
            found.add(AnomalyKind.DUPLICATE, key, f"read #{r.index} lists {fmt(twice)} more "
                      "than once", [r])
        complete = r.complete_ns if r.complete_ns is not None else 1 << 62
        strange = [v for v in counts if first_invoke.get(v, complete + 1) > complete]
        if strange:
            found.add(AnomalyKind.UNEXPECTED, key, f"read #{r.index} contains "
                      f"{fmt(strange)}, never added before the read completed", [r])
        while done < len(by_ack) and by_ack[done].complete_ns < r.invoke_ns:  # type: ignore[operator]
            done += 1
        seen_acked = [v for v in counts if v in acked and (acked[v].complete_ns or 0) < r.invoke_ns]
        if r is final or len(seen_acked) == done:
            continue
        missing = [op for op in by_ack[:done] if op.value not in counts
                   and op.value in final_set]
        if missing:
            found.add(AnomalyKind.STALE_READ, key, f"read #{r.index} misses "
                      f"{fmt(op.value for op in missing)}, acknowledged before it began and "
                      "present in the final read", [r, *missing])


def check_queue(ops: Iterable[Op], *, drained: bool = True, enqueue: str = "enqueue",
                dequeue: str = "dequeue") -> CheckResult:
    """Lost, duplicated and unexpected queue elements, as multisets (see module doc)."""
    groups, found = prepare("queue", ops, {enqueue, dequeue})
    for key, group in groups.items():
        attempted: Counter[Any] = Counter()
        enqueued: dict[Any, list[Op]] = {}
        dequeued: dict[Any, list[Op]] = {}
        for op in group:
            if op.f == enqueue and op.outcome is not Outcome.FAIL:
                attempted[op.value] += 1
                if op.outcome is Outcome.OK:
                    enqueued.setdefault(op.value, []).append(op)
            elif op.f == dequeue and op.outcome is Outcome.OK and op.value is not None:
                dequeued.setdefault(op.value, []).append(op)
        for value, outs in dequeued.items():
            if not attempted[value]:
                found.add(AnomalyKind.UNEXPECTED, key, f"dequeued {render(value)}, which was "
                          "never enqueued", outs)
            elif len(outs) > attempted[value]:
                found.add(AnomalyKind.DUPLICATE, key, f"dequeued {render(value)} {len(outs)} "
                          f"times, enqueued {attempted[value]} times", outs)
        if drained:
            lost = [op for value, ins in enqueued.items()
                    for op in ins[len(dequeued.get(value, ())):]]
            if lost:
                found.add(AnomalyKind.LOST, key, f"{len(lost)} acknowledged enqueues never "
                          f"dequeued: {fmt(op.value for op in lost)}", lost)
    return found.result()


def check_unique_ids(ops: Iterable[Op], *, f: str = "generate") -> CheckResult:
    """Ids returned by more than one ok ``generate`` operation."""
    groups, found = prepare("unique-ids", ops, {f})
    for key, group in groups.items():
        seen: dict[Any, list[Op]] = {}
        for op in group:
            if op.f == f and op.outcome is Outcome.OK:
                seen.setdefault(op.value, []).append(op)
        for value, outs in seen.items():
            if len(outs) > 1:
                found.add(AnomalyKind.DUPLICATE, key, f"id {render(value)} was generated "
                          f"{len(outs)} times", outs)
    return found.result()
