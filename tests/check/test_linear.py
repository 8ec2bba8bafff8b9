"""The linearizability checker and each built-in model on hand-written histories."""

from __future__ import annotations

import itertools
import random
from pathlib import Path
from typing import Any

import pytest

from faultlab.check import (
    MODELS,
    Budget,
    Model,
    ModelError,
    Verdict,
    check_file,
    check_linearizable,
    get_model,
)
from faultlab.check.simulate import simulate
from faultlab.history import HistoryError, Op, Outcome, write_jsonl

OK, FAIL, INFO = Outcome.OK, Outcome.FAIL, Outcome.INFO


def h(*specs: tuple[Any, ...]) -> list[Op]:
    """(process, f, value, invoke, complete, outcome[, key]) tuples as ops."""
    return [Op(i, s[0], s[1], s[2], s[3], s[4], s[5], s[6] if len(s) > 6 else None)
            for i, s in enumerate(specs)]


def verdict(ops: list[Op], model: str) -> Verdict:
    return check_linearizable(ops, MODELS[model]).verdict


def test_register_concurrent_read_may_see_old_or_new() -> None:
    base = [(0, "write", 1, 0, 10, OK), (0, "write", 2, 20, 40, OK)]
    assert verdict(h(*base, (1, "read", 1, 25, 30, OK)), "register") is Verdict.VALID
    assert verdict(h(*base, (1, "read", 2, 25, 30, OK)), "register") is Verdict.VALID
    assert verdict(h(*base, (1, "read", 1, 41, 50, OK)), "register") is Verdict.INVALID
    assert verdict(h(*base, (1, "read", None, 11, 12, OK)), "register") is Verdict.INVALID


def test_info_write_may_take_effect_late_or_never() -> None:
    crashed = (2, "write", 9, 5, 6, INFO)
    reads_9_late = h((0, "write", 1, 0, 10, OK), crashed, (1, "read", 1, 20, 30, OK),
                     (1, "read", 9, 100, 110, OK))
    assert verdict(reads_9_late, "register") is Verdict.VALID  # after its completion even
    never = h((0, "write", 1, 0, 10, OK), crashed, (1, "read", 1, 100, 110, OK))
    assert verdict(never, "register") is Verdict.VALID
    not_before_invoke = h((0, "write", 1, 0, 10, OK), (1, "read", 9, 11, 12, OK),
                          (2, "write", 9, 50, None, INFO))
    assert verdict(not_before_invoke, "register") is Verdict.INVALID


def test_failed_ops_are_dropped_and_info_reads_ignored() -> None:
    ops = h((0, "write", 1, 0, 10, OK), (1, "write", 5, 11, 12, FAIL),
            (2, "read", None, 13, None, INFO), (1, "read", 1, 20, 30, OK))
    assert verdict(ops, "register") is Verdict.VALID
    result = check_linearizable(ops, MODELS["register"])
    assert result.ops_checked == 2  # the failed write and the crashed read left out


def test_cas_register() -> None:
    ops = h((0, "write", 1, 0, 10, OK), (1, "cas", (1, 2), 11, 20, OK),
            (2, "cas", (1, 3), 12, 18, FAIL), (0, "read", 2, 21, 30, OK))
    assert verdict(ops, "cas-register") is Verdict.VALID
    bad = h((0, "write", 1, 0, 10, OK), (1, "cas", (2, 3), 11, 20, OK))
    assert verdict(bad, "cas-register") is Verdict.INVALID


def test_kv_partitions_by_key() -> None:
    ops = h((0, "write", 1, 0, 10, OK, "a"), (1, "write", 2, 0, 10, OK, "b"),
            (0, "read", 1, 20, 30, OK, "a"), (1, "read", 2, 20, 30, OK, "b"))
    result = check_linearizable(ops, MODELS["kv"])
    assert result.verdict is Verdict.VALID and result.stats["partitions"] == 2
    swapped = h((0, "write", 1, 0, 10, OK, "a"), (1, "write", 2, 0, 10, OK, "b"),
                (0, "read", 2, 20, 30, OK, "a"))
    assert verdict(swapped, "kv") is Verdict.INVALID


def test_set_queue_counter_mutex() -> None:
    assert verdict(h((0, "add", 1, 0, 10, OK), (1, "add", 2, 5, 15, OK),
                     (2, "read", (1,), 6, 12, OK), (2, "read", (1, 2), 20, 30, OK)),
                   "set") is Verdict.VALID
    assert verdict(h((0, "add", 1, 0, 10, OK), (2, "read", (), 20, 30, OK)),
                   "set") is Verdict.INVALID
    fifo = h((0, "enqueue", 1, 0, 10, OK), (0, "enqueue", 2, 11, 20, OK),
             (1, "dequeue", 2, 21, 30, OK))
    assert verdict(fifo, "fifo-queue") is Verdict.INVALID
    assert verdict(h((0, "enqueue", 1, 0, 10, OK), (1, "enqueue", 2, 5, 20, OK),
                     (2, "dequeue", 2, 21, 30, OK)), "queue") is Verdict.VALID
    assert verdict(h((0, "enqueue", 1, 0, 10, OK), (1, "dequeue", None, 5, None, INFO),
                     (2, "dequeue", None, 21, 30, OK)), "queue") is Verdict.VALID
    assert verdict(h((0, "incr", 2, 0, 10, OK), (1, "incr", None, 5, None, INFO),
                     (2, "read", 3, 21, 30, OK)), "counter") is Verdict.VALID
    assert verdict(h((0, "incr", 2, 0, 10, OK), (2, "read", 1, 21, 30, OK)),
                   "counter") is Verdict.INVALID
    assert verdict(h((0, "acquire", None, 0, 10, OK), (1, "acquire", None, 20, 30, OK)),
                   "mutex") is Verdict.INVALID
    assert verdict(h((0, "acquire", None, 0, 10, OK), (0, "release", None, 15, None, INFO),
                     (1, "acquire", None, 20, 30, OK)), "mutex") is Verdict.VALID


def test_violation_explains_prefix_and_stuck_ops() -> None:
    ops = h((0, "write", 1, 0, 10, OK), (1, "write", 2, 11, 20, OK),
            (2, "read", 2, 21, 30, OK), (2, "read", 1, 31, 40, OK))
    result = check_linearizable(ops, MODELS["register"])
    v = result.violation
    assert result.verdict is Verdict.INVALID and v is not None
    assert [op.index for op in v.prefix] == [0, 1, 2] and v.states == ("1", "2", "2")
    assert v.must_complete.index == 3 and v.state == "2"
    assert "must hold 1; it holds 2" in v.stuck[0].reason
    text = result.render()
    assert "#3 p2 read 1 ok" in text and "longest linearizable prefix" in text


def test_precheck_names_impossible_read() -> None:
    ops = h((0, "write", 1, 0, 10, OK), (1, "read", 7, 20, 30, OK))
    result = check_linearizable(ops, MODELS["register"])
    assert result.violation is not None and result.stats["decided_without_search"] == 1
    assert "no operation invoked before it completed writes 7" in result.violation.stuck[0].reason


def test_budget_gives_unknown_with_reason_never_a_hang() -> None:
    # Many concurrent enqueues, then a dequeue that only a wrong order could explain: the
    # search must exhaust a large space of queue orders (seconds); the budget stops it.
    history = simulate("fifo-queue", random.Random(11), ops=60, processes=5, crash=0.05)
    taken = {op.value for op in history if op.f == "dequeue" and op.outcome is OK}
    left = [op for op in history if op.f == "enqueue" and op.outcome is OK
            and op.value not in taken]
    newest = max(left, key=lambda op: op.invoke_ns)  # dequeued before 16 older elements
    history.append(Op(999, 999, "dequeue", newest.value, 10**6, 10**6 + 1, OK))
    ticks = itertools.count()
    result = check_linearizable(history, MODELS["queue"], Budget(time_s=0.5),
                                clock=lambda: next(ticks) * 0.01)
    assert result.verdict is Verdict.UNKNOWN
    assert result.reason.startswith("time budget of 0.5 s ran out with 1 of 1 partitions")
    tiny = check_linearizable(history, MODELS["queue"], Budget(memory_bytes=1))
    assert tiny.verdict is Verdict.UNKNOWN and "memory budget" in tiny.reason


def test_custom_model() -> None:
    def step(state: int, op: Op) -> tuple[bool, int]:
        if op.f == "double":
            return True, state * 2
        return op.value == state, state

    doubler = Model("doubler", lambda: 1, step, frozenset({"double", "read"}), partition=None)
    ops = h((0, "double", None, 0, 10, OK), (1, "double", None, 5, 15, OK),
            (2, "read", 4, 20, 30, OK))
    assert check_linearizable(ops, doubler).verdict is Verdict.VALID
    ops[2] = Op(2, 2, "read", 2, 20, 30, OK)
    assert check_linearizable(ops, doubler).verdict is Verdict.INVALID


def test_bad_input_is_a_model_error() -> None:
    with pytest.raises(ModelError, match="does not know"):
        check_linearizable(h((0, "frob", 1, 0, 1, OK)), MODELS["register"])
    with pytest.raises(ModelError, match=r"\[expected, new\]"):
        check_linearizable(h((0, "cas", 1, 0, 1, OK)), MODELS["cas-register"])
    with pytest.raises(ValueError, match="did you mean 'cas-register'"):
        get_model("cas-registr")


def test_check_file(tmp_path: Path) -> None:
    path = tmp_path / "h.jsonl"
    write_jsonl(h((0, "write", 1, 0, 10, OK), (1, "read", 1, 20, 30, OK)), path)
    assert check_file(path, "cas-register").verdict is Verdict.VALID
    (tmp_path / "bad.jsonl").write_text("{nope\n")
    with pytest.raises(HistoryError, match=r"bad.jsonl:1:1: not JSON"):
        check_file(tmp_path / "bad.jsonl", "register")
    with pytest.raises(ModelError, match="unknown model"):
        check_file(path, "nope")
    edn = tmp_path / "h.edn"
    edn.write_text("{:type :invoke, :f :write, :value 1, :process 0, :time 1}\n"
                   "{:type :ok, :f :write, :value 1, :process 0, :time 2}\n"
                   "{:type :invoke, :f :read, :value nil, :process 0, :time 3}\n"
                   "{:type :ok, :f :read, :value 2, :process 0, :time 4}\n")
    assert check_file(edn, "register").verdict is Verdict.INVALID
