"""Every kind of Chaos Toolkit tolerance, on http, process and python probes, converted and
then asked of a real service in both its states: each converted probe must pass while the
service is healthy and fail once it is broken (or the other way round, where the tolerance
says so). The probes are asked through the probe workload's own code (``RunningProbe``),
the one the runner polls."""

from __future__ import annotations

import sys
from typing import Any, cast

import aiohttp
import pytest

from faultlab.experiment import load_experiment_text
from faultlab.workload.probe import ProbeWorkload, RunningProbe

from .conftest import Service, convert

PY = sys.executable


def _http(path: str = "/health", **extra: Any) -> dict[str, Any]:
    return {"type": "http", "url": "${base}" + path, **extra}


def _process(code: str) -> dict[str, Any]:
    # the list form: path and its arguments, no shell
    return {"type": "process", "path": PY, "arguments": ["-c", code]}


_FETCH = ("import sys, urllib.request, urllib.error\n"
          "try:\n    r = urllib.request.urlopen(sys.argv[1] + '/health', timeout=5)\n"
          "    print(r.read().decode())\nexcept urllib.error.HTTPError as e:\n"
          "    print(e.read().decode()); sys.exit(3)\n")


def _fetch(**extra: Any) -> dict[str, Any]:
    return {"type": "process", "path": PY, "arguments": ["-c", _FETCH, "${base}"], **extra}


def _python(func: str, **arguments: Any) -> dict[str, Any]:
    return {"type": "python", "module": "tests.importers.ctk_probes", "func": func,
            "arguments": {"base": "${base}", **arguments}}


def _judge(func: str, **arguments: Any) -> dict[str, Any]:
    """A probe as tolerance: the function is given the probe's result as value."""
    return {"type": "probe", "name": "judge", "provider": {
        "type": "python", "module": "tests.importers.ctk_probes", "func": func,
        "arguments": arguments}}


# (id, provider, tolerance, passes while healthy, passes while broken)
CASES: list[tuple[str, dict[str, Any], Any, bool, bool]] = [
    ("http-status", _http(), 200, True, False),
    ("http-status-list", _http(), [503, 504], False, True),
    ("http-range-status", _http(), {"type": "range", "range": [200, 299], "target": "status"},
     True, False),
    ("http-range-body", _http("/load"), {"type": "range", "range": [0, 10], "target": "body"},
     True, False),
    ("http-regex-body", _http(), {"type": "regex", "pattern": '"status": *"ok"',
                                  "target": "body"}, True, False),
    ("http-jsonpath-expect", _http(), {"type": "jsonpath", "path": "$.checks[*].state",
                                       "expect": "up", "target": "body"}, True, False),
    ("http-jsonpath-filter", _http(), {"type": "jsonpath", "target": "body", "expect": ["db"],
                                       "path": "$.checks.*[?(@.state == 'up')].name"},
     True, False),
    ("http-jsonpath-count", _http(), {"type": "jsonpath", "path": "$..name", "count": 1,
                                      "target": "body"}, True, False),
    ("http-jsonpath-untargeted", _http(), {"type": "jsonpath", "path": "$.body.status",
                                           "expect": ["ok"]}, True, False),
    ("http-expected-status", _http(expected_status=200), None, True, False),
    ("process-exit", _fetch(), 0, True, False),
    ("process-exit-list", _fetch(), [3, 4], False, True),
    ("process-range-status", _fetch(), {"type": "range", "range": [0, 1], "target": "status"},
     True, False),
    ("process-regex-stdout", _fetch(), {"type": "regex", "pattern": "\"up\"",
                                        "target": "stdout"}, True, False),
    ("process-jsonpath-stdout", _fetch(), {"type": "jsonpath", "path": "$.load", "expect": 3,
                                           "target": "stdout"}, True, False),
    ("process-range-stdout", _process("print(4)"), {"type": "range", "range": [1, 5],
                                                    "target": "stdout"}, True, True),
    ("process-string-arguments", {"type": "process", "path": "test",
                                  "arguments": "-d /"}, 0, True, True),
    ("http-probe-tolerance", _http(), _judge("answer_is_up"), True, False),
    ("process-probe-tolerance", _fetch(), _judge("stdout_says", word='"up"'), True, False),
    ("python-probe-tolerance", _python("load"), _judge("below", limit=10), True, False),
    ("python-bool", _python("healthy"), True, True, False),
    ("python-string", _python("status"), "ok", True, False),
    ("python-int", _python("load"), 3, True, False),
    ("python-int-status", _python("answer"), 200, True, False),
    ("python-list-range", _python("load"), [0, 10], True, False),
    ("python-list-set", _python("status"), ["ok", "degraded", "x"], True, False),
    ("python-range", _python("load"), {"type": "range", "range": [0, 10]}, True, False),
    ("python-range-target", _python("answer"), {"type": "range", "range": [200, 299],
                                                "target": "status"}, True, False),
    ("python-regex", _python("status"), {"type": "regex", "pattern": "^o"}, True, False),
    ("python-jsonpath", _python("answer"), {"type": "jsonpath", "path": "$.body.checks[0].state",
                                            "expect": "up"}, True, False),
    ("python-jsonpath-target", _python("answer"), {"type": "jsonpath", "target": "body",
                                                   "path": "$.status", "expect": ["ok"]},
     True, False),
]


def _experiment(provider: dict[str, Any], tolerance: Any, base: str) -> dict[str, Any]:
    probe: dict[str, Any] = {"type": "probe", "name": "the-probe", "provider": provider}
    if tolerance is not None:
        probe["tolerance"] = tolerance
    else:
        probe["tolerance"] = [200, 201]  # with expected_status: the status must be 200
    return {"title": "tolerances", "configuration": {"base": base},
            "steady-state-hypothesis": {"title": "t", "probes": [probe]},
            "method": [{"type": "action", "name": "nothing",
                        "provider": {"type": "process", "path": "true"}}]}


async def _passes(spec: ProbeWorkload) -> bool:
    # No clock or recorder needed: one question, asked by the code every poll of a run runs.
    probe = RunningProbe("the-probe", spec, cast(Any, None))
    async with aiohttp.ClientSession() as session:
        passed: bool = await (probe._http(session) if spec.http is not None
                              else probe._command())
    return passed


@pytest.mark.timeout(300)
@pytest.mark.parametrize(("provider", "tolerance", "healthy", "broken"),
                         [c[1:] for c in CASES], ids=[c[0] for c in CASES])
async def test_a_converted_tolerance_judges_real_answers(
        service: Service, provider: dict[str, Any], tolerance: Any, healthy: bool,
        broken: bool) -> None:
    conv = convert(_experiment(provider, tolerance, service.url))
    assert conv.unconverted == [], conv.unconverted
    exp = load_experiment_text(conv.text).experiment
    spec = exp.workloads["the-probe"]
    assert isinstance(spec, ProbeWorkload)
    assert exp.slos[0].workload == "the-probe" and exp.slos[0].success_ratio == 1.0
    assert await _passes(spec) is healthy
    assert service.post("/break") == 200
    assert await _passes(spec) is broken
