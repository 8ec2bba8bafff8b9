"""The checks probe workloads gained for Chaos Toolkit's tolerances (``matches``,
``between``, ``jsonpath`` with ``count``/``expect``, ``expect_exit`` lists or any): the
JSONPath subset, the checks on texts, and bad values refused when the file is loaded."""

from __future__ import annotations

import pytest

from faultlab.experiment import ExperimentError, load_experiment_text
from faultlab.workload.probe import (
    JsonPathError,
    TextChecks,
    jsonpath_values,
    parse_jsonpath,
)

DOC = {"status": "ok", "checks": [{"name": "db", "state": "up"},
                                  {"name": "cache", "state": "down", "deps": {"name": "x"}}],
       "n": 3, "odd key": True}


@pytest.mark.parametrize(("path", "values"), [
    ("$", [DOC]),
    ("$.status", ["ok"]),
    ("$.checks[1].state", ["down"]),
    ("$.checks[-1].name", ["cache"]),
    ("$.checks[*].state", ["up", "down"]),
    ("$.checks.*.name", ["db", "cache"]),
    ("$['odd key']", [True]),
    ("$..name", ["db", "cache", "x"]),
    ("$.missing", []),
    ("$.checks[5]", []),
    ("$.checks.*[?(@.deps)].name", ["cache"]),  # Chaos Toolkit's (jsonpath2's) idiom
    ("$.checks[?(@.deps)].name", ["cache"]),  # the other libraries' one
    ("$.checks[?(@.state == 'up')].name", ["db"]),
    ("$.checks[?(@['state'] != \"up\")].deps.name", ["x"]),
    ("$[?(@.n >= 3)].status", ["ok"]),
    ("$[?(@.n < 'x')]", []),  # a number and a string do not compare: no match
])
def test_jsonpath_subset(path: str, values: list[object]) -> None:
    assert jsonpath_values(parse_jsonpath(path), DOC) == values


@pytest.mark.parametrize(("path", "says"), [
    ("status", "must start with $"),
    ("$.a[?(@.b =~ /x/)]", "this filter"),
    ("$.a[0:2]", "slices"),
    ("$.a b", "not supported"),
])
def test_jsonpath_refuses_what_it_does_not_read(path: str, says: str) -> None:
    with pytest.raises(JsonPathError, match=says.replace("$", r"\$")):
        parse_jsonpath(path)


def test_text_checks() -> None:
    assert TextChecks(matches="o+k").text_passes("fooook")
    assert not TextChecks(matches="^ok$").text_passes("not ok")
    assert TextChecks(between=(1, 5)).text_passes(" 5\n")  # inclusive, as Chaos Toolkit's
    assert not TextChecks(between=(1, 5)).text_passes("6")
    assert not TextChecks(between=(1, 5)).text_passes("five")
    assert TextChecks(between=(1, 5)).text_passes("{}", (True, 2))  # a json_path's value
    assert not TextChecks(between=(1, 5)).text_passes("{}", (False, None))
    assert not TextChecks(between=(0, 1)).text_passes("{}", (True, True))  # not a number
    body = '{"a": [1, 2], "b": {"a": 3}}'
    assert TextChecks(jsonpath="$..a").text_passes(body)
    assert not TextChecks(jsonpath="$.c").text_passes(body)
    assert TextChecks(jsonpath="$.a[*]", count=2).text_passes(body)
    assert TextChecks(jsonpath="$.c", count=0).text_passes(body)
    assert TextChecks(jsonpath="$.b.a", expect=[3]).text_passes(body)
    assert not TextChecks(jsonpath="$.a[*]", expect=[2, 1]).text_passes(body)
    assert not TextChecks(jsonpath="$").text_passes("not json")


BASE = """
name: checked
workloads:
  p:
    kind: probe
{probe}
"""


@pytest.mark.parametrize(("probe", "says"), [
    ("    http: {url: 'http://127.0.0.1:1/', matches: '('}", "is not a regular expression"),
    ("    http: {url: 'http://127.0.0.1:1/', between: [5, 1]}", "low <= high"),
    ("    http: {url: 'http://127.0.0.1:1/', count: 1}", "count and expect need jsonpath"),
    ("    http: {url: 'http://127.0.0.1:1/', jsonpath: '$.a[1:]'}", "slices"),
    ("    command: {argv: ['true'], expect_exit: [0, 300]}", "255"),
    ("    command: {argv: ['true'], stream: both}", "stdout"),
])
def test_bad_checks_are_refused_at_load(probe: str, says: str) -> None:
    with pytest.raises(ExperimentError, match=says):
        load_experiment_text(BASE.format(probe=probe))


def test_new_fields_load_and_dump_back() -> None:
    text = BASE.format(probe="    http: {url: 'http://127.0.0.1:1/', method: POST, headers: "
                       "{X-A: b}, body: hi, jsonpath: $.a, expect: [1], matches: x}")
    exp = load_experiment_text(text).experiment
    again = load_experiment_text(exp.model_dump_json(by_alias=True)).experiment
    assert again == exp
    command = load_experiment_text(BASE.format(
        probe="    command: {argv: ['true'], expect_exit: any, stream: stderr, matches: x}"))
    assert command.experiment.workloads["p"].command.expect_exit == "any"  # type: ignore[attr-defined]
