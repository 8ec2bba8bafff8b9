"""Validation takes time linear in the size of the file (trust issue, item 10: 8,000 vars took
50 s and 9,000 faults 152 s, because parts of it compared every pair).

No clock: the work is counted. :func:`work` counts the Python events (calls and lines) of one
load; validating 2N items must cost at most about twice N items. Python-level quadratic loops
(the pairwise overlap check was one) show as a ratio towards 4; C-level ones do not, so the
algorithms that were quadratic are also checked directly: how often they do their step.
"""

from __future__ import annotations

import contextlib
import difflib
import sys
from collections.abc import Callable
from typing import Any

import pytest

from faultlab.experiment import ExperimentError, load_experiment_text, yamlpos
from faultlab.experiment.model import Target

LINEAR = 2.2  # work(2N) / work(N); a quadratic part of a tenth of the work gives ~2.3

PROXY = "targets:\n  a: {proxy: {listen: '127.0.0.1:16000', upstream: '127.0.0.1:5432'}}\n"


def load(text: str) -> None:
    with contextlib.suppress(ExperimentError):
        load_experiment_text(text, "w.yaml")


def work(fn: Callable[[], Any]) -> int:
    """Python events (calls and lines) while ``fn`` runs."""
    count = 0

    def tracer(frame: Any, event: str, arg: Any) -> Any:
        nonlocal count
        count += 1
        return tracer

    old = sys.gettrace()
    sys.settrace(tracer)
    try:
        fn()
    finally:
        sys.settrace(old)
    return count


def ratio(make: Callable[[int], str], n: int) -> float:
    load(make(2))  # imports and cached models are not part of the work
    return work(lambda: load(make(2 * n))) / work(lambda: load(make(n)))


def faults(n: int, gap: int = 2) -> str:
    return "name: t\n" + PROXY + "faults:\n" + "".join(
        f"  - {{name: f{i}, kind: down, target: a, start: {i * gap}s, duration: 1s}}\n"
        for i in range(n))


def overlapping(n: int) -> str:
    return faults(n, gap=0)  # every fault overlaps every other: one problem each


def variables(n: int) -> str:
    return ("name: t\nvars:\n" + "".join(f"  v{i}: {i}\n" for i in range(n))
            + "description: '" + "".join(f"${{v{i}}}" for i in range(n)) + "'\n")


def targets(n: int) -> str:
    return "name: t\ntargets:\n" + "".join(
        f"  t{i}: {{proxy: {{listen: '127.0.0.1:{1000 + i}', upstream: '127.0.0.1:{3000 + i}'}}}}\n"
        for i in range(n))


def slos(n: int) -> str:
    return ("name: t\nworkload: {http: {url: 'http://h/', rate: 1/s}}\nslos:\n"
            + "".join(f"  - {{name: s{i}, success_ratio: 0.5%}}\n" for i in range(n))
            + "hypothesis: {during: {hold: [" + ", ".join(f"s{i}" for i in range(n)) + "]}}\n")


def bad_values(n: int) -> str:
    return "name: t\n" + PROXY + "faults:\n" + "".join(
        f"  - {{name: f{i}, kind: latency, target: a, start: {i * 2}s, delay: 100, "
        "duration: 1s}\n" for i in range(n))


def test_the_work_count_tells_quadratic_from_linear() -> None:
    """The measure itself: a check that cannot fail is a defect."""
    def pairs(n: int) -> None:
        for i in range(n):
            for _ in range(i):
                pass

    def items(n: int) -> None:
        for _ in range(n):
            pass

    assert work(lambda: pairs(200)) / work(lambda: pairs(100)) > 3.5
    assert work(lambda: items(200)) / work(lambda: items(100)) < LINEAR


@pytest.mark.parametrize(("make", "n"), [
    (faults, 100), (overlapping, 100), (variables, 300), (targets, 100), (slos, 100),
    (bad_values, 100)], ids=lambda v: getattr(v, "__name__", str(v)))
def test_validation_work_is_linear(make: Callable[[int], str], n: int) -> None:
    assert ratio(make, n) < LINEAR


def test_each_overlapping_fault_is_reported_once() -> None:
    """All pairs were once reported: 1,000 faults at one time gave 499,500 problems."""
    with pytest.raises(ExperimentError) as info:
        load_experiment_text(overlapping(300))
    assert len(info.value.problems) == 299


def test_identities_are_computed_once_per_fault(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = 0
    identity = Target.identity

    def counted(self: Target) -> tuple[str, ...]:
        nonlocal calls
        calls += 1
        return identity(self)

    monkeypatch.setattr(Target, "identity", counted)
    for n in (200, 400):
        calls = 0
        load(overlapping(n))
        assert calls <= n + 10  # the pairwise check made n * (n - 1) calls


def test_vars_are_read_by_one_converter(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each var once copied every var above it (and listed every var below it)."""
    made = 0
    init = yamlpos.Converter.__init__

    def counted(self: yamlpos.Converter, *args: Any, **kwargs: Any) -> None:
        nonlocal made
        made += 1
        init(self, *args, **kwargs)

    monkeypatch.setattr(yamlpos.Converter, "__init__", counted)
    load(variables(500))
    assert made == 2  # one for the vars, one for the rest


def test_did_you_mean_work_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    """1,000 mistyped targets among 1,000: a million string comparisons (36 s)."""
    compared = 0
    close = difflib.get_close_matches

    def counted(word: str, possibilities: Any, *args: Any, **kwargs: Any) -> list[str]:
        nonlocal compared
        compared += len(possibilities)
        return close(word, possibilities, *args, **kwargs)

    monkeypatch.setattr(difflib, "get_close_matches", counted)
    n = 1000
    text = ("name: t\ntargets:\n" + "".join(f"  target{i}: {{host: h{i}}}\n" for i in range(n))
            + "hosts: {}\nfaults:\n" + "".join(
                f"  - {{name: f{i}, kind: command, target: targte{i}, inject: 'true', "
                "duration: 1s}\n" for i in range(n)))
    with pytest.raises(ExperimentError) as info:
        load_experiment_text(text)
    assert compared <= yamlpos.MAX_SUGGEST_WORK
    unknown = [p for p in info.value.problems if "unknown target" in p.message]
    assert "did you mean 'target0'?" in unknown[0].hint  # the first still get one
    assert all(len(p.hint) <= 300 for p in info.value.problems)
