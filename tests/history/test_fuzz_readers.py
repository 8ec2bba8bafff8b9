"""Property tests: the readers turn *any* text into a history or into one-line problems."""

from __future__ import annotations

import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from faultlab.history import HistoryError, parse_edn_history, parse_jsonl, to_edn
from faultlab.history.edn import EdnSyntaxError, loads_all

FUZZ = settings(max_examples=300, deadline=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
EDN_BITS = st.sampled_from([
    "{", "}", "[", "]", "(", ")", "#{", "#_", "#inst", "##Inf", ":type", ":invoke", ":ok",
    ":info", ":fail", ":f", ":read", ":write", ":value", ":process", ":time", ":nemesis",
    "nil", "true", "1", "-2", "3.5", "9N", '"s"', '"\\', "\\a", ";c\n", " ", ",", "\n",
    "[1 2]", ":key", "x/y", "1e9", "#", "\\u00e9"])
JSON_BITS = st.sampled_from([
    "{", "}", "[", "]", '"process"', '"f"', '"value"', '"key"', '"invoke_ns"', '"complete_ns"',
    '"outcome"', '"ok"', '"info"', '"fail"', '"read"', ":", ",", "0", "1", "-1", "1.5", "null",
    "true", "\n", " ", '"x"', "NaN", "1e999", "\\u0000"])


def _one_line_problems(error: HistoryError) -> None:
    assert error.problems
    for p in error.problems:
        assert "\n" not in str(p) and p.line >= 1 and p.column >= 1


@FUZZ
@given(st.one_of(st.text(), st.lists(EDN_BITS).map("".join)))
def test_edn_reader_never_raises_anything_else(text: str) -> None:
    try:
        loads_all(text)
    except EdnSyntaxError as exc:
        where = (exc.line, exc.column)
    else:
        where = (1, 1)
    assert min(where) >= 1
    try:
        history = parse_edn_history(text)
    except HistoryError as exc:
        _one_line_problems(exc)
    else:
        assert parse_edn_history(to_edn(history)) == history


@FUZZ
@given(st.one_of(st.text(), st.lists(JSON_BITS).map("".join)))
def test_jsonl_reader_never_raises_anything_else(text: str) -> None:
    try:
        parse_jsonl(text)
    except HistoryError as exc:
        _one_line_problems(exc)


OP = st.fixed_dictionaries({
    "process": st.one_of(st.integers(-3, 5), st.just("nemesis"), st.none(), st.booleans()),
    "f": st.one_of(st.sampled_from(["read", "write", "cas"]), st.integers(), st.just("")),
    "invoke_ns": st.one_of(st.integers(-5, 100), st.floats(), st.text(max_size=2)),
    "outcome": st.one_of(st.sampled_from(["ok", "fail", "info", "OK"]), st.none()),
}, optional={
    "complete_ns": st.one_of(st.integers(-5, 200), st.none()),
    "value": st.recursive(st.one_of(st.integers(), st.text(max_size=3), st.none()),
                          lambda c: st.lists(c, max_size=3) | st.dictionaries(
                              st.text(max_size=2), c, max_size=2), max_leaves=6),
    "key": st.one_of(st.text(max_size=3), st.integers(), st.lists(st.integers(), max_size=1)),
    "error": st.one_of(st.text(max_size=3), st.integers()),
    "index": st.integers(-1, 10), "bogus": st.integers(),
})


@FUZZ
@given(st.lists(OP, max_size=5))
def test_structured_jsonl_round_trips_or_fails_cleanly(ops: list[dict[str, object]]) -> None:
    text = "\n".join(json.dumps(op) for op in ops)
    try:
        history = parse_jsonl(text)
    except HistoryError as exc:
        _one_line_problems(exc)
        return
    assert len(history) == len(ops)
    assert parse_jsonl(to_lines(history)) == history


def to_lines(history: object) -> str:
    from faultlab.history import dump_op
    assert hasattr(history, "ops")
    return "\n".join(dump_op(op) for op in history.ops)
