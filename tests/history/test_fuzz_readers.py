"""Property tests: the readers turn *any* text into a history or into one-line problems, and
the checkers turn any history read into a verdict or a one-line ModelError."""

from __future__ import annotations

import json
import random
import re
from collections.abc import Callable

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from faultlab.check import (
    MODELS,
    Budget,
    CheckResult,
    ModelError,
    check_bank,
    check_counter,
    check_linearizable,
    check_queue,
    check_set,
    check_unique_ids,
)
from faultlab.check.simulate import simulate
from faultlab.history import History, HistoryError, parse_edn_history, parse_jsonl, to_edn
from faultlab.history.edn import EdnSyntaxError, loads_all
from faultlab.history.jepsen_text import parse_text_history

FUZZ = settings(max_examples=300, deadline=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
EDN_BITS = st.sampled_from([
    "{", "}", "[", "]", "(", ")", "#{", "#_", "#inst", "##Inf", ":type", ":invoke", ":ok",
    ":info", ":fail", ":f", ":read", ":write", ":value", ":process", ":time", ":nemesis",
    "nil", "true", "1", "-2", "3.5", "9N", '"s"', '"\\', "\\a", ";c\n", " ", ",", "\n",
    "[1 2]", ":key", "x/y", "1e9", "#", "\\u00e9", "#_ #_", "##NaN", "1e999", ":time",
    "\u2028", "\ufeff", "\r"])
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


# --- mutations of valid histories, in every format, through every checker ---------------------

KINDS = ["cas-register", "set", "fifo-queue", "counter"]
ODD = ["\u00a0", "\u2028", "\u2029", "\ufeff", "\r", "\t", "\u200b", "e\u0301", "\x00", "\x85",
       "\\", '"', "\U0001f600", "\ud800", " ", "\n", "\r\n", "\x1c"]
SWAPS = ["true", "false", "null", "nil", '"x"', "[]", "{}", "-1", "1.5", "1e999", "##NaN",
         ":k", "9" * 30, "[1 2 3]", '{"a": 1}', "#{1}", ""]


def as_text(history: History) -> str:
    """Jepsen's history.txt for ``history``: one event per line, fields separated by tabs."""
    from faultlab.history.edn import Keyword, dumps

    lines = []
    for form in loads_all(to_edn(history)):
        assert isinstance(form, dict)
        get = {k.name: v for k, v in form.items() if isinstance(k, Keyword)}
        lines.append("\t".join(dumps(get[k]) for k in ("process", "type", "f", "value")))
    return "\n".join(lines) + "\n"


def mutate(text: str, data: st.DataObject) -> str:
    for _ in range(data.draw(st.integers(1, 3))):
        lines = text.split("\n")
        how = data.draw(st.sampled_from(["truncate", "swap", "drop", "dup", "token", "odd",
                                         "digit"]))
        if how == "truncate" and text:
            text = text[:data.draw(st.integers(0, len(text)))]
        elif how in ("swap", "drop", "dup") and len(lines) > 1:
            i, j = (data.draw(st.integers(0, len(lines) - 1)) for _ in range(2))
            if how == "swap":
                lines[i], lines[j] = lines[j], lines[i]
            elif how == "drop":
                del lines[i]
            else:
                lines.insert(j, lines[i])
            text = "\n".join(lines)
        elif how == "token":
            tokens = re.findall(r'-?\d+|"[^"]*"|:\w+|nil|null|true|false', text)
            if tokens:
                old = data.draw(st.sampled_from(tokens))
                text = text.replace(old, data.draw(st.sampled_from(SWAPS)), 1)
        elif how == "odd":
            at = data.draw(st.integers(0, len(text)))
            text = text[:at] + data.draw(st.sampled_from(ODD)) + text[at:]
        elif how == "digit":
            digits = [m.start() for m in re.finditer(r"\d", text)]
            if digits:
                at = data.draw(st.sampled_from(digits))
                text = text[:at] + data.draw(st.sampled_from("0123456789")) + text[at + 1:]
    return text


PARSERS: dict[str, Callable[[str, str], History]] = {
    "h.jsonl": parse_jsonl, "h.edn": parse_edn_history, "h.txt": parse_text_history}
PYTHON_REPR = re.compile(r"\bNone\b|\bTrue\b|\bFalse\b|frozenset|FrozenMap|Flag\(|,\)")


@settings(max_examples=400, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(kind=st.sampled_from(KINDS), seed=st.integers(0, 2**32 - 1),
       name=st.sampled_from(sorted(PARSERS)), data=st.data())
def test_mutated_histories_give_a_verdict_or_located_problems(
        kind: str, seed: int, name: str, data: st.DataObject) -> None:
    """Whatever a mutation does to a valid history, each reader gives a history or one-line
    problems located in the file, and each checker a verdict or a one-line ModelError: never
    another exception, never Python reprs in what people read."""
    ops = simulate(kind, random.Random(seed), ops=data.draw(st.integers(1, 12)),
                   processes=3, crash=0.2)
    history = History(tuple(ops))
    text = {"h.jsonl": to_lines(history) + "\n", "h.edn": to_edn(history),
            "h.txt": as_text(history)}[name]
    mutated = mutate(text, data)
    try:
        read = PARSERS[name](mutated, name)
    except HistoryError as exc:
        event(f"{name}: rejected")
        _located(exc, name, mutated)
        return
    event(f"{name}: read")
    assert len(read) >= 1
    for result in _checks(read, kind):
        if isinstance(result, ModelError):
            assert "\n" not in str(result)
            assert result.op is None or result.op.source is None or str(result).startswith(
                f"{name}:")
            continue
        text_out = result.render()
        assert not PYTHON_REPR.search(text_out), text_out


def _located(error: HistoryError, name: str, text: str) -> None:
    _one_line_problems(error)
    lines = len(re.split(r"\r\n|\r|\n", text))
    assert all(str(p).startswith(f"{name}:") and p.line <= lines + 1 for p in error.problems)


def _checks(history: History, kind: str) -> list[CheckResult | ModelError]:
    runs: list[Callable[[], CheckResult]] = [
        lambda: check_linearizable(history, MODELS[kind], Budget(time_s=5)),
        lambda: check_set(history), lambda: check_queue(history),
        lambda: check_counter(history), lambda: check_bank(history),
        lambda: check_unique_ids(history)]
    out: list[CheckResult | ModelError] = []
    for run in runs:
        try:
            out.append(run())
        except ModelError as exc:
            out.append(exc)
    return out
