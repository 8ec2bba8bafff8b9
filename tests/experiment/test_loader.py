"""The loader's good paths: the demo files, variables, secrets, and where errors point."""

from __future__ import annotations

import hashlib
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from faultlab.experiment import ExperimentError, load_experiment, load_experiment_text
from faultlab.experiment.loader import LoadedExperiment
from faultlab.experiment.model import Experiment, HttpWorkload
from faultlab.faults.kinds.down import DownSpec
from faultlab.faults.kinds.latency import LatencySpec
from faultlab.faults.kinds.restart import RestartSpec
from faultlab.journal import Redactor

DEMO_DIR = Path(__file__).parents[2] / "src" / "faultlab" / "demo" / "experiments"

PROXY = """\
name: t
targets:
  db: {proxy: {listen: "127.0.0.1:15432", upstream: "127.0.0.1:5432"}}
"""


def http_of(exp: Experiment) -> HttpWorkload:
    assert exp.workload is not None
    assert exp.workload.http is not None
    return exp.workload.http


def load(text: str, **overrides: str) -> LoadedExperiment:
    return load_experiment_text(textwrap.dedent(text), "test.yaml", overrides)


def first_problem(text: str, **overrides: str) -> str:
    with pytest.raises(ExperimentError) as info:
        load_experiment_text(textwrap.dedent(text), "test.yaml", overrides)
    return str(info.value.problems[0])


# --- the demo files ---------------------------------------------------------------------------

@pytest.mark.parametrize(("name", "fault_type"), [
    ("data-down", DownSpec), ("inventory-restart", RestartSpec), ("slow-data", LatencySpec)])
def test_demo_files_load(name: str, fault_type: type) -> None:
    path = DEMO_DIR / f"{name}.yaml"
    loaded = load_experiment(path)
    exp = loaded.experiment
    assert exp.name == name
    assert loaded.source == str(path)
    assert loaded.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    assert set(exp.targets) == {"data-link", "inventory-link", "inventory"}
    assert [s.name for s in exp.slos] == ["fast-pages", "pages-served"]
    assert exp.workload is not None
    assert http_of(exp).url == "http://127.0.0.1:18180/product/7"
    assert http_of(exp).rate == 50.0
    assert [type(f) for f in exp.faults] == [fault_type]
    assert loaded.secrets == {}


def test_demo_commands_use_the_builtin_python_var() -> None:
    exp = load_experiment(DEMO_DIR / "slow-data.yaml").experiment
    assert {s.command[0] for s in exp.system.services.values()} == {sys.executable}
    assert exp.system.services["data"].command[-1] == "18183"  # "${data_port}", quoted


def test_a_file_var_can_replace_the_builtin_python() -> None:
    exp = load('vars: {python: /opt/py/bin/python3}\nname: t\n'
               'system: {services: {a: {command: ["${python}", app.py]}}}\n').experiment
    assert exp.system.services["a"].command == ("/opt/py/bin/python3", "app.py")


# --- variables --------------------------------------------------------------------------------

TYPED = """\
name: t
vars: {port: 8080, inflight: 50, status: 204}
workload:
  http:
    url: http://127.0.0.1:${port}/health
    rate: 10/s
    max_in_flight: ${inflight}
    expect_status:
      - ${status}
    headers: {X-Port: "${port}", X-Where: "port ${port}"}
seed: ${port}
"""


def test_a_whole_plain_var_keeps_its_type_and_a_var_in_a_string_stays_text() -> None:
    exp = load(TYPED).experiment
    assert exp.workload is not None
    http = http_of(exp)
    assert http.url == "http://127.0.0.1:8080/health"
    assert http.max_in_flight == 50
    assert http.expect_status == [204]
    assert http.headers == {"X-Port": "8080", "X-Where": "port 8080"}
    assert exp.seed == 8080 and isinstance(exp.seed, int)


def test_var_overrides_beat_file_vars_and_become_numbers_where_numbers_go() -> None:
    loaded = load(TYPED, port="9090", inflight="7")
    exp = loaded.experiment
    assert exp.workload is not None
    assert http_of(exp).url == "http://127.0.0.1:9090/health"
    assert http_of(exp).max_in_flight == 7
    assert exp.seed == 9090
    assert loaded.variables["port"] == "9090"
    assert exp.vars["port"] == "9090" and exp.vars["status"] == 204


def test_an_override_may_introduce_a_var_the_file_does_not_declare() -> None:
    exp = load("name: t\ndescription: run ${who}\n", who="ci").experiment
    assert exp.description == "run ci"


def test_a_var_in_a_longer_string_is_spelled_as_yaml_would() -> None:
    exp = load("name: t\nvars: {debug: true, ratio: 0.5}\n"
               "description: debug=${debug} ratio=${ratio}\n").experiment
    assert exp.description == "debug=true ratio=0.5"


def test_a_var_that_reads_yes_stays_a_string() -> None:
    exp = load("name: t\nvars: {answer: 'yes'}\ndescription: ${answer}\n").experiment
    assert exp.description == "yes"


def test_vars_may_use_earlier_vars_and_overrides() -> None:
    text = """\
    name: t
    vars:
      host: 127.0.0.1
      base: "http://${host}:${port}"
    workload: {http: {url: "${base}/x", rate: 1/s}}
    """
    exp = load(text, port="81").experiment
    assert http_of(exp).url == "http://127.0.0.1:81/x"


def test_env_is_substituted_and_recorded_as_a_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FAULTLAB_TEST_TOKEN", "s3cr3t-value")
    loaded = load("""\
    name: t
    workload:
      http:
        url: http://127.0.0.1:8080/
        rate: 5/s
        headers: {Authorization: "Bearer ${env:FAULTLAB_TEST_TOKEN}"}
    """)
    assert loaded.experiment.workload is not None
    assert http_of(loaded.experiment).headers["Authorization"] == "Bearer s3cr3t-value"
    assert loaded.secrets == {"s3cr3t-value": "FAULTLAB_TEST_TOKEN"}
    # ... which is what keeps it out of journals: the reference replaces the value
    assert Redactor(loaded.secrets).text("sent Bearer s3cr3t-value") == (
        "sent Bearer ${env:FAULTLAB_TEST_TOKEN}")


def test_env_in_a_var_reaches_its_uses_and_is_a_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    """A var holding ${env:...} was once kept as the literal text '${env:...}'."""
    monkeypatch.setenv("FAULTLAB_TEST_TOKEN", "tok-123")
    loaded = load('name: t\nvars: {token: "${env:FAULTLAB_TEST_TOKEN}"}\n'
                  'description: "auth ${token}"\n')
    assert loaded.experiment.description == "auth tok-123"
    assert "tok-123" in loaded.secrets


def test_an_overridden_var_does_not_need_its_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("FAULTLAB_TEST_UNSET", raising=False)
    text = 'name: t\nvars: {token: "${env:FAULTLAB_TEST_UNSET}"}\ndescription: "${token}"\n'
    assert "FAULTLAB_TEST_UNSET is not set" in first_problem(text)
    loaded = load(text, token="given")
    assert loaded.experiment.description == "given"
    assert loaded.secrets == {}


# --- durations in files -----------------------------------------------------------------------

def test_compound_durations_are_read() -> None:
    exp = load(PROXY + "faults:\n  - {target: db, kind: down, start: 1m30s, duration: 1h}\n")
    assert (exp.experiment.faults[0].start, exp.experiment.faults[0].duration) == (90.0, 3600.0)


def test_the_overlap_hint_suggests_a_start_that_loads() -> None:
    """The hint once said "start at 1m40s", which the loader did not read."""
    faults = ("faults:\n  - {name: a, target: db, kind: down, duration: 100s}\n"
              "  - {name: b, target: db, kind: down, start: 30s, duration: 5s}\n")
    problem = first_problem(PROXY + faults)
    assert "start at 1m40s or later" in problem
    exp = load(PROXY + faults.replace("start: 30s", "start: 1m40s")).experiment
    assert exp.faults[1].start == 100.0


# --- where errors point -----------------------------------------------------------------------

def test_a_deeply_nested_error_points_at_the_value() -> None:
    text = """\
    name: t
    system:
      services:
        api:
          command: ./api
          ready:
            tcp: localhost
    """
    assert first_problem(text).startswith(
        "test.yaml:7:14: system.services.api.ready.tcp: 'localhost' is not host:port")


def test_an_error_in_the_third_fault_points_into_the_third_fault() -> None:
    text = PROXY + """\
faults:
  - {name: a, target: db, kind: down, duration: 5s}
  - {name: b, target: db, kind: down, start: 10s, duration: 5s}
  - name: c
    target: db
    kind: latency
    start: 20s
    delay: 100
    duration: 5s
"""
    assert first_problem(text).startswith("test.yaml:11:12: faults[2].delay: duration 100")


def test_an_unknown_key_points_at_the_key_and_a_missing_one_at_its_mapping() -> None:
    assert first_problem("name: t\nrevert:\n  lease_grace: 1s\n  timout: 1s\n").startswith(
        "test.yaml:4:3: revert.timout: unknown key 'timout' (hint: did you mean 'timeout'?)")
    assert first_problem("name: t\nslos:\n  - latency: {p99: 1s}\n").startswith(
        "test.yaml:3:5: slos[0].name: missing required key 'name'")


def test_a_var_error_points_at_the_dollar_inside_the_string() -> None:
    problem = first_problem('name: t\ndescription: >-\n  one\n  and ${nope}\n')
    assert problem.startswith("test.yaml:4:7: description: unknown variable ${nope}")


def test_a_problem_in_a_var_points_into_vars() -> None:
    assert first_problem("name: t\nvars:\n  ports: [1, 2]\n").startswith(
        "test.yaml:3:10: vars.ports: expected a string, a number or true/false, got a list")


# --- hostile input ----------------------------------------------------------------------------

def test_an_alias_inside_its_own_anchor_is_a_problem() -> None:
    assert "refers to itself" in first_problem("name: t\nx: &a [1, *a]\n")


BOMB_CHECK = """
import resource, sys
resource.setrlimit(resource.RLIMIT_AS, (2 << 30, 2 << 30))  # a regression fails, not the host
from faultlab.experiment import ExperimentError, load_experiment_text
try:
    load_experiment_text(sys.stdin.read())
except ExperimentError as e:
    print(e.problems[0])
"""


def test_an_alias_bomb_is_refused_quickly() -> None:
    """Nine lines that expand to a billion values once took all the memory of the machine."""
    lines = ["name: t", "a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]" for i in range(1, 9)]
    started = time.monotonic()
    run = subprocess.run([sys.executable, "-c", BOMB_CHECK], input="\n".join(lines),
                         capture_output=True, text=True, timeout=60, check=False)
    assert "expands to more than" in run.stdout, run.stderr[-2000:]
    assert time.monotonic() - started < 20


@pytest.mark.parametrize("value", [
    "!!python/object/apply:os.system [echo]", "!!binary aGk=", "!custom x"])
def test_tags_that_make_objects_are_refused(value: str) -> None:
    assert "is not supported" in first_problem(f"name: t\ndescription: {value}\n")


def test_a_date_like_value_stays_text() -> None:
    assert load("name: 2024-01-01\n").experiment.name == "2024-01-01"


def test_double_dollar_escapes_a_literal_placeholder() -> None:
    from faultlab.experiment import load_experiment_text

    exp = load_experiment_text(
        "name: t\nvars: {a: 1}\n"
        "system: {services: {s: {command: [sh, -c, 'echo $${HOME} ${a}']}}}\n").experiment
    assert exp.system.services["s"].command == ("sh", "-c", "echo ${HOME} 1")
