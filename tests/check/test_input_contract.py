"""What every checker promises about its input: any JSON value works, a value or function the
checker cannot read is a ModelError at the operation's file position, nothing to check is
"unknown", and what it prints has no Python reprs."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from faultlab.check import (
    MODELS,
    CheckResult,
    ModelError,
    Verdict,
    check_bank,
    check_counter,
    check_file,
    check_linearizable,
    check_queue,
    check_set,
    check_unique_ids,
    read_history,
)
from faultlab.history import Op, Outcome, parse_jsonl

OK, FAIL, INFO = Outcome.OK, Outcome.FAIL, Outcome.INFO
PROPS = settings(max_examples=150, deadline=None)

SCALARS = st.one_of(st.none(), st.booleans(), st.integers(-3, 3),
                    st.text(alphabet="abc", max_size=2))
VALUES = st.recursive(SCALARS, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(
    st.text(alphabet="xy", max_size=2), inner, max_size=2), max_leaves=8)
PYTHON = re.compile(r"\bNone\b|\bTrue\b|\bFalse\b|frozenset|FrozenMap|Flag\(|\(\)|,\)|"
                    r"'[a-z]*'(?!\?)|\bset\(\)")


def thaw(value: Any) -> Any:
    if isinstance(value, list):
        return tuple(thaw(v) for v in value)
    if isinstance(value, dict):
        return {k: thaw(v) for k, v in value.items()}
    return value


def assert_readable(result: CheckResult) -> None:
    text = result.render()
    assert not PYTHON.search(text.replace("'linearizable'", "")), text


def h(*specs: tuple[Any, ...]) -> list[Op]:
    return [Op(i, s[0], s[1], s[2], s[3], s[4], s[5]) for i, s in enumerate(specs)]


@PROPS
@given(st.lists(VALUES, min_size=1, max_size=6), st.data())
def test_collections_take_any_json_value(elements: list[Any], data: st.DataObject) -> None:
    elements = [thaw(e) for e in elements]
    adds = [(i, "add", e, 10 * i, 10 * i + 5, OK) for i, e in enumerate(elements)]
    seen = tuple(data.draw(st.lists(st.sampled_from(elements), max_size=len(elements) + 1)))
    ops = h(*adds, (99, "read", seen, 1000, 1001, OK))
    for result in (check_set(ops), check_linearizable(ops, MODELS["set"])):
        assert result.verdict in (Verdict.VALID, Verdict.INVALID)
        assert_readable(result)
    queue = h(*[(i, "enqueue", e, 10 * i, 10 * i + 5, OK) for i, e in enumerate(elements)],
              *[(50 + i, "dequeue", e, 1000 + 10 * i, 1005 + 10 * i, OK)
                for i, e in enumerate(seen)])
    for result in (check_queue(queue), check_linearizable(queue, MODELS["queue"]),
                   check_unique_ids([Op(o.index, o.process, "generate", o.value, o.invoke_ns,
                                        o.complete_ns, o.outcome) for o in queue])):
        assert result.verdict in (Verdict.VALID, Verdict.INVALID)
        assert_readable(result)
    got = seen[0] if seen else None
    register = h((0, "write", elements[0], 0, 5, OK), (1, "read", got, 10, 15, OK))
    result = check_linearizable(register, MODELS["register"])
    assert result.valid == _same(got, elements[0])
    assert_readable(result)


def _same(a: Any, b: Any) -> bool:
    from faultlab.history.values import canonical

    return bool(canonical(a) == canonical(b))


def test_json_objects_in_a_set_from_a_file() -> None:
    history = parse_jsonl(
        '{"process": 0, "f": "add", "value": {"a": 1}, "invoke_ns": 1, "complete_ns": 2, '
        '"outcome": "ok"}\n'
        '{"process": 1, "f": "add", "value": {"b": [1, {"c": null}]}, "invoke_ns": 1, '
        '"complete_ns": 2, "outcome": "ok"}\n'
        '{"process": 0, "f": "read", "value": [{"a": 1}], "invoke_ns": 3, "complete_ns": 4, '
        '"outcome": "ok"}\n')
    result = check_set(history)
    assert result.verdict is Verdict.INVALID and 'lost' in result.render()
    assert '{"b": [1, {"c": null}]}' in result.render()
    assert not check_linearizable(history, MODELS["set"]).valid


def test_true_is_not_one() -> None:
    assert not check_linearizable(h((0, "write", 1, 0, 5, OK), (1, "read", True, 10, 15, OK)),
                                  MODELS["register"]).valid
    assert check_set(h((0, "add", 1, 0, 5, OK), (1, "read", (True,), 10, 15, OK))).verdict is \
        Verdict.INVALID


# --- input the checker cannot read: a located ModelError ------------------------------------

LINES = ('{"process": 0, "f": "write", "value": 1, "invoke_ns": 1, "complete_ns": 2, '
         '"outcome": "ok"}\n\n')


@pytest.mark.parametrize(("model", "line", "words"), [
    ("cas-register", '{"process": 1, "f": "cas", "value": 5, "invoke_ns": 3, "complete_ns": 4, '
     '"outcome": "ok"}', "operation #1 (cas 5): a cas value must be [expected, new], found 5"),
    ("register", '{"process": 1, "f": "cas", "value": [1, 2], "invoke_ns": 3, "complete_ns": 4,'
     ' "outcome": "ok"}', "does not know f 'cas'"),
    ("set", '{"process": 1, "f": "read", "value": 7, "invoke_ns": 3, "complete_ns": 4, '
     '"outcome": "ok"}', "a set read returns the set's elements"),
    ("counter", '{"process": 1, "f": "incr", "value": "x", "invoke_ns": 3, "complete_ns": 4, '
     '"outcome": "ok"}', "takes a number"),
])
def test_model_errors_carry_the_file_position(tmp_path: Path, model: str, line: str,
                                              words: str) -> None:
    path = tmp_path / "h.jsonl"
    f = {"set": '"add"', "counter": '"incr"'}.get(model, '"write"')
    path.write_text(LINES.replace('"write"', f) + line + "\n")  # line 3: the bad operation
    with pytest.raises(ModelError) as caught:
        check_file(path, model)
    assert str(caught.value).startswith(f"{path}:3:1: ") and words in str(caught.value)
    assert caught.value.op is not None and caught.value.op.index == 1


def test_model_errors_in_jepsen_inputs_point_at_the_invocation(tmp_path: Path) -> None:
    (tmp_path / "h.edn").write_text("{:type :invoke, :f :cas, :value 5, :process 0, :time 1}\n"
                                    "{:type :ok, :f :cas, :value 5, :process 0, :time 2}\n")
    with pytest.raises(ModelError, match=r"h.edn:1:1: operation #0 \(cas 5\)"):
        check_file(tmp_path / "h.edn", "cas-register")
    (tmp_path / "h.txt").write_text("0 :invoke :read nil\n  1 :invoke :cas 5\n")
    with pytest.raises(ModelError) as caught:
        check_file(tmp_path / "h.txt", "register")
    assert str(caught.value).startswith(f"{tmp_path / 'h.txt'}:2:3: ")


@pytest.mark.parametrize(("checker", "ops", "words"), [
    (check_set, h((0, "write", 1, 0, 1, OK)), "the set checker reads only f 'add', 'read'"),
    (check_set, h((0, "read", 5, 0, 1, OK)), "a set read returns the set's elements"),
    (check_queue, h((0, "push", 1, 0, 1, OK)), "the queue checker reads only f"),
    (check_counter, h((0, "incr", True, 0, 1, OK)), "takes a number"),
    (check_counter, h((0, "read", "x", 0, 1, OK)), "a counter read returns a number"),
    (check_bank, h((0, "read", (1, 2), 0, 1, OK)), "a map of account to balance"),
    (check_unique_ids, h((0, "read", 1, 0, 1, OK)), "reads only f 'generate'"),
])
def test_cheap_checkers_refuse_what_they_cannot_read(checker: Any, ops: list[Op],
                                                     words: str) -> None:
    with pytest.raises(ModelError, match=re.escape(words)):
        checker(ops)


# --- nothing to check -----------------------------------------------------------------------

@pytest.mark.parametrize("checker", [
    lambda ops: check_linearizable(ops, MODELS["cas-register"]), check_set, check_queue,
    check_counter, check_bank, check_unique_ids])
@pytest.mark.parametrize("ops", [
    [], h((0, "read", None, 0, 1, FAIL)),
    [Op(0, "nemesis", "read", None, 0, 1, INFO)],
], ids=["empty", "all-failed", "nemesis-only"])
def test_nothing_to_check_is_unknown_not_valid(checker: Any, ops: list[Op]) -> None:
    if checker in (check_queue,) and ops and ops[0].is_client:
        ops = [Op(0, 0, "dequeue", None, 0, 1, FAIL)]
    if checker is check_unique_ids and ops and ops[0].is_client:
        ops = [Op(0, 0, "generate", None, 0, 1, FAIL)]
    result = checker(ops)
    assert result.verdict is Verdict.UNKNOWN, result.render()
    assert result.reason.startswith("nothing to check")


def test_violations_read_as_json_not_python(tmp_path: Path) -> None:
    path = tmp_path / "h.jsonl"
    path.write_text(
        '{"process": 0, "f": "add", "value": 1, "invoke_ns": 1, "complete_ns": 2, '
        '"outcome": "ok"}\n'
        '{"process": 1, "f": "read", "value": [], "invoke_ns": 3, "complete_ns": 4, '
        '"outcome": "ok"}\n')
    text = check_file(path, "set").render()
    assert "not linearizable" in text and "partition" not in text
    assert "read [] ok" in text and "(missing #{1})" in text and "extra" not in text
    assert not PYTHON.search(text), text
    keyed = read_history(path)
    ops = [Op(op.index, op.process, op.f, op.value, op.invoke_ns, op.complete_ns, op.outcome,
              "k1") for op in keyed]
    text = check_linearizable(ops, MODELS["set"]).render()
    assert text.startswith('linearizable[set]: invalid') and 'key "k1": not linearizable' in text
    assert '#1 p1 key "k1": read [] ok' in text
