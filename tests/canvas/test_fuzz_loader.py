"""Property tests: the canvas loader turns *any* text into a canvas or into one-line located
problems, and every canvas it returns can be analysed (and drawn to JSON) without an error.

Inputs: random text over YAML's punctuation, random structures of the canvas's keys, and
mutations of whole canvases (the mistakes an editor makes)."""

from __future__ import annotations

import json
import re
from typing import Any

import yaml
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from faultlab.canvas.analysis import analyze
from faultlab.canvas.loader import load_canvas_text
from faultlab.experiment.errors import ExperimentError

from .conftest import EXAMPLES
from .test_loader import GOOD

SOURCE = "fuzz.yaml"
YAML_LINE_BREAK = re.compile("\r\n|[\r\n\x85\u2028\u2029]")
FUZZ = settings(max_examples=200, deadline=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
CANVASES = (GOOD, *(p.read_text(encoding="utf-8") for p in sorted(EXAMPLES.glob("*.yaml"))))

KEYS = ("version", "name", "description", "vars", "zones", "availability", "services",
        "datastores", "instances", "replicas", "quorum", "mttf", "mttr", "zones", "target",
        "dependencies", "from", "to", "kind", "fallback", "timeout", "deadline", "attempts",
        "backoff", "retry_budget", "idempotent", "pool", "journeys", "entry", "steps", "rps",
        "slo", "latency", "p99", "window", "request", "url", "system", "process", "service")
TOKENS = ("hard", "soft", "web", "api", "db", "a -> b", "web -> api", "api->db", "->",
          "99.9%", "0.99%", "150%", "0", "1", "3", "-1", "1.5", "200ms", "0s", "720h", "10/s",
          "10", "true", "null", "~", "[]", "{}", "${port}", "${nope}", "${env:NOPE_X}", "&a",
          "*a", "!!binary", "1e400", ".nan", "- ", ": ", "é", "\t")


def check_outcome(text: str, overrides: dict[str, str] | None = None) -> None:
    try:
        loaded = load_canvas_text(text, SOURCE, overrides)
    except ExperimentError as e:
        check_problems(e, text)
    else:
        result = analyze(loaded.canvas)
        json.dumps(result.to_json(), allow_nan=False)
        for f in result.findings:
            assert loaded.locate_subject(f.subject).startswith(f"{SOURCE}:")


def check_problems(error: ExperimentError, text: str) -> None:
    assert error.problems
    last_line = len(YAML_LINE_BREAK.split(text)) + 1
    for problem in error.problems:
        rendered = str(problem)
        assert len(rendered.splitlines()) == 1, rendered
        assert rendered.startswith(f"{SOURCE}:{problem.line}:{problem.column}: ")
        assert 1 <= problem.line <= last_line, rendered
        assert problem.message and "Traceback" not in rendered


yamlish = st.lists(st.sampled_from(
    [*"abdefmnrstwy0123456789 \n\n\n  :-,.[]{}#&*!|>'\"%/\\~", "\x00", "\x85", "\u2028",
     "->", "${", ": ", "- "]), max_size=200).map("".join)


@FUZZ
@given(yamlish)
@example("name: x\ndependencies: [{from: a, to: a}]\n")
@example("name: x\nzones: {a: {}}\nservices: {a: {zones: [a, a]}}\n")
def test_random_text(text: str) -> None:
    check_outcome(text)


scalars = st.one_of(st.sampled_from(TOKENS), st.integers(-5, 5000),
                    st.floats(allow_nan=True), st.booleans(), st.none(), st.text(max_size=8))
structures: st.SearchStrategy[Any] = st.recursive(
    scalars, lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.dictionaries(st.sampled_from((*KEYS, "web", "api", "db")), children, max_size=5)),
    max_leaves=25)


@FUZZ
@given(st.dictionaries(st.sampled_from(KEYS), structures, min_size=1, max_size=8),
       st.booleans())
def test_random_structures(doc: dict[str, Any], flow: bool) -> None:
    check_outcome(yaml.safe_dump(doc, default_flow_style=flow, allow_unicode=True))


@st.composite
def mutated(draw: st.DrawFn) -> str:
    lines = draw(st.sampled_from(CANVASES)).splitlines(keepends=True)
    for _ in range(draw(st.integers(1, 3))):
        if not lines:
            break
        i = draw(st.integers(0, len(lines) - 1))
        line = lines[i]
        how = draw(st.sampled_from(("delete", "swap", "indent", "token", "dup")))
        if how == "delete":
            del lines[i]
        elif how == "swap" and len(line) > 2:
            j = draw(st.integers(0, len(line) - 2))
            lines[i] = line[:j] + line[j + 1] + line[j] + line[j + 2:]
        elif how == "indent":
            lines[i] = " " * draw(st.integers(1, 4)) + line
        elif how == "token" and ":" in line:
            lines[i] = f"{line[: line.index(':') + 1]} {draw(st.sampled_from(TOKENS))}\n"
        elif how == "dup":
            lines.insert(i, line)
    return "".join(lines)


@FUZZ
@given(mutated())
def test_mutated_canvases(text: str) -> None:
    check_outcome(text)


def test_the_mutations_reach_both_outcomes() -> None:
    outcomes: set[bool] = set()

    @settings(max_examples=60, deadline=None, database=None)
    @given(mutated())
    def probe(text: str) -> None:
        try:
            load_canvas_text(text, SOURCE)
            outcomes.add(True)
        except ExperimentError:
            outcomes.add(False)

    probe()
    assert outcomes == {True, False}
