"""The sort-based overlap check finds exactly the faults the pairwise definition finds."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from faultlab.experiment.model import Experiment, experiment_model
from faultlab.experiment.semantic import _overlaps

TARGETS = {
    "p1": {"proxy": {"listen": "127.0.0.1:16001", "upstream": "127.0.0.1:5432"}},
    "p2": {"proxy": {"listen": "127.0.0.1:16002", "upstream": "127.0.0.1:5433"}},
    "k1": {"process": {"pidfile": "/run/k1.pid"}},
    "k2": {"process": {"pidfile": "/run/k1.pid"}},  # the same processes as k1
}

fault = st.one_of(
    st.builds(lambda t, s, d: {"kind": "down", "target": t, "start": f"{s}s",
                               "duration": f"{d}s"},
              st.sampled_from(["p1", "p2"]), st.integers(0, 8), st.integers(1, 4)),
    st.builds(lambda t, s: {"kind": "kill", "target": t, "start": f"{s}s"},
              st.sampled_from(["k1", "k2"]), st.integers(0, 8)),
    st.builds(lambda t, s, d: {"kind": "pause", "target": t, "start": f"{s}s",
                               "duration": f"{d}s"},
              st.sampled_from(["k1", "k2"]), st.integers(0, 8), st.integers(1, 4)),
    st.builds(lambda s, d: {"kind": "command", "inject": "true", "start": f"{s}s",
                            "duration": f"{d}s"}, st.integers(0, 8), st.integers(0, 3)),
)


def pairwise(exp: Experiment) -> dict[int, set[int]]:
    """The definition, pair by pair: fault -> the earlier faults it overlaps."""
    out: dict[int, set[int]] = {}
    faults = list(enumerate(exp.faults))
    for i, a in faults:
        for j, b in faults[:i]:
            if not (a.exclusive and b.exclusive):
                continue
            ids_a = {t.identity() for n in a.target_names if (t := exp.target(n))}
            ids_b = {t.identity() for n in b.target_names if (t := exp.target(n))}
            if not ids_a & ids_b:
                continue
            a_end, b_end = a.start + a.duration, b.start + b.duration
            if (a.start < b_end and b.start < a_end) or a.start == b.start or (
                    a.duration == 0 and b.start <= a.start < b_end) or (
                    b.duration == 0 and a.start <= b.start < a_end):
                out.setdefault(i, set()).add(j)
    return out


@settings(max_examples=500, deadline=None)
@given(st.lists(fault, max_size=12))
def test_sweep_agrees_with_the_pairwise_definition(faults: list[dict[str, Any]]) -> None:
    named = [{**f, "name": f"f{i}"} for i, f in enumerate(faults)]
    exp = experiment_model().model_validate({"name": "t", "targets": TARGETS,
                                             "faults": named})
    expected = pairwise(exp)
    found = {int(path[1]): message for path, message, _, _ in _overlaps(exp)}
    assert set(found) == set(expected)
    for i, message in found.items():
        assert any(f"overlaps fault 'f{j}' " in message for j in expected[i]), message
