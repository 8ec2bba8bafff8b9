"""The converter on any JSON value, and on experiment-shaped values made of Chaos Toolkit's
own keys: a conversion whose text loads as a faultlab experiment, or ImportFileError with
located one-line problems; never another exception."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from faultlab.canvas.importers.common import Text
from faultlab.experiment import load_experiment_text
from faultlab.experiment.errors import ExperimentError, Problem
from faultlab.importers import ImportFileError, Options, import_chaostoolkit

OPTIONS = Options(every=0.5, steady_for=1, check_for=1)
FUZZ = settings(max_examples=150, deadline=None, database=None,
                suppress_health_check=[HealthCheck.too_slow])

scalars = st.one_of(st.none(), st.booleans(), st.integers(-10**6, 10**6),
                    st.floats(allow_nan=False, allow_infinity=False), st.text(max_size=12))
json_values = st.recursive(scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=8), inner, max_size=4)),
    max_leaves=20)

words = st.sampled_from(["${base}", "${token}", "$${x}", "${nope}", "/health", "true", "echo",
                         "http://127.0.0.1:9/x", "GET", "POST", "body", "status", "stdout",
                         "$.a.b", "$..c[0]", "$.x[?(@.y)]", "(", "ok"])
texts = st.one_of(words, st.text(max_size=10), st.builds(lambda a, b: a + b, words, words))
leaf = st.one_of(scalars, texts)
tolerances = st.one_of(
    leaf, st.lists(leaf, max_size=3),
    st.fixed_dictionaries({"type": st.sampled_from(["range", "regex", "jsonpath", "probe",
                                                    "x"])},
                          optional={"range": st.lists(leaf, max_size=3), "pattern": texts,
                                    "path": texts, "expect": json_values, "count": leaf,
                                    "target": texts}))
# mostly well-formed providers (so the fuzz reaches tolerances, pauses, substitution), with
# any text now and then
maybe = st.one_of
providers = st.fixed_dictionaries(
    {"type": st.sampled_from(["http", "process", "python", "k8s"]),
     "url": maybe(st.sampled_from(["http://127.0.0.1:9/x", "${base}/h"]), texts),
     "path": maybe(st.sampled_from(["true", "echo", "${base}"]), texts),
     "module": maybe(st.sampled_from(["os.path", "json"]), texts),
     "func": maybe(st.sampled_from(["exists", "dumps"]), texts)},
    optional={"method": texts,
              "headers": st.dictionaries(texts, leaf, max_size=2),
              "arguments": st.one_of(texts, st.lists(leaf, max_size=3),
                                     st.dictionaries(texts, leaf, max_size=3)),
              "timeout": leaf, "expected_status": leaf, "secrets": st.lists(texts, max_size=2)})
names = st.sampled_from(["a", "b", "p0", "a b/c", ""])
activities = st.fixed_dictionaries(
    {"type": st.sampled_from(["action", "probe", "probe", "other"]), "name": names,
     "provider": providers},
    optional={"tolerance": tolerances, "background": st.booleans(), "x": leaf,
              "pauses": st.dictionaries(st.sampled_from(["before", "after", "x"]), leaf,
                                        max_size=2)})
activity_or_ref = st.one_of(activities, st.fixed_dictionaries({"ref": maybe(names, texts)}))
experiments = st.fixed_dictionaries(
    {"title": maybe(st.just("t"), texts), "method": st.lists(activity_or_ref, max_size=3)},
    optional={
        "steady-state-hypothesis": st.fixed_dictionaries(
            {"title": texts}, optional={"probes": st.lists(activity_or_ref, max_size=3)}),
        "rollbacks": st.lists(activity_or_ref, max_size=2),
        "configuration": st.dictionaries(st.sampled_from(["base", "token", "n"]), st.one_of(
            leaf, st.fixed_dictionaries({"type": st.sampled_from(["env", "probe"]),
                                         "key": texts}, optional={"default": leaf}))),
        "secrets": st.dictionaries(texts, st.dictionaries(
            st.sampled_from(["token", "base"]), st.one_of(leaf, st.fixed_dictionaries(
                {"type": st.sampled_from(["env", "vault"]), "key": texts}))), max_size=2),
        "extensions": json_values, "controls": json_values, "tags": json_values})


def _converts_or_refuses(value: Any) -> None:
    try:
        text = json.dumps(value)
    except ValueError:
        return
    problems: list[Problem] = []
    try:
        conv = import_chaostoolkit(Text(text, "fuzz.json"), OPTIONS)
    except ImportFileError as e:
        problems = e.problems
    if problems:
        assert all("\n" not in str(p) for p in problems)
        return
    assert conv.text.startswith("# Converted from")
    for line in conv.lines("fuzz.json"):
        assert "\n" not in line
    try:
        load_experiment_text(conv.text)
    except ExperimentError as e:
        problems = e.problems
    # only what this machine lacks may keep it from loading here: the environment, PATH
    assert all("environment variable" in p.message or "not found on PATH" in p.message
               for p in problems), problems


@FUZZ
@given(json_values)
def test_any_json_value_converts_or_is_refused(value: Any) -> None:
    _converts_or_refuses(value)


@FUZZ
@given(experiments)
def test_experiment_shaped_values_convert_or_are_refused(value: Any) -> None:
    _converts_or_refuses(value)
