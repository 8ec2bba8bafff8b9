""""Validate means it will run": files that validated and then failed the run, or ran with
values other than those written, are refused with one located line (or work as written).

Each case is one the hostile tester found (trust issue, items 8 and 9), checked through the
loader, where the file becomes objects.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from faultlab.experiment import ExperimentError, load_experiment_text
from faultlab.experiment.loader import LoadedExperiment

HTTP = "workload: {http: {url: 'http://127.0.0.1:8080/', rate: 1/s"
PROXY = "targets: {a: {proxy: {listen: '127.0.0.1:16000', upstream: '127.0.0.1:5432'}}}\n"


def load(text: str, **overrides: str) -> LoadedExperiment:
    return load_experiment_text(textwrap.dedent(text), "t.yaml", overrides)


def problems(text: str, **overrides: str) -> list[str]:
    with pytest.raises(ExperimentError) as info:
        load(text, **overrides)
    rendered = [str(p) for p in info.value.problems]
    assert all(len(r.splitlines()) == 1 and r.startswith("t.yaml:") for r in rendered)
    return rendered


def first(text: str, **overrides: str) -> str:
    return problems(text, **overrides)[0]


# --- item 8: validated, then "internal error ... ValueError" at run time ----------------------

@pytest.mark.parametrize(("text", "where", "says"), [
    (f"name: t\n{HTTP}}}}}\n".replace("8080", "99999"), "2:24", "port 99999 is outside"),
    ("name: t\nsystem: {services: {a: {command: 'true', ready: "
     "{http: 'http://127.0.0.1:99999/'}}}}\n", "2:56", "port 99999 is outside"),
    ("name: t\nsystem: {services: {a: {command: 'true', ready: {tcp: '127.0.0.1:99999'}}}}\n",
     "2:55", "outside 1..65535"),
    (f"name: t\n{HTTP}}}}}\n".replace("127.0.0.1:8080", "[::1"), "2:24", "IPv6"),
    (f"name: t\n{HTTP}, headers: {{X-A: \"a\\r\\nX-B: 1\"}}}}}}\n", "2:76", "carriage return"),
    ("name: t\nsystem: {services: {a: {command: 'true', cwd: \"/tmp\\0x\"}}}\n", "2:47",
     "NUL"),
    ("name: t\ntargets: {p: {process: {pidfile: \"/run/a\\0.pid\"}}}\n", "2:34", "NUL"),
    ("name: t\nsystem: {services: {a: {command: [\"sh\\0\"]}}}\n", "2:34", "NUL"),
    ("name: t\nworkload: {history: {client: redis, address: '127.0.0.1:6379', model: bank}}\n",
     "2:71", "'bank' is a model that redis cannot run"),
    ("name: t\nsystem: {services: {a: {command: 'true', env: {A: \"\\0\"}}}}\n", "2:51", "NUL"),
    ("name: t\ntargets: {a: {proxy: {api: 'http://127.0.0.1:8474', name: p, "
     "token: 'a b'}}}\n", "2:69", "visible ASCII"),
])
def test_what_failed_the_run_fails_validation(text: str, where: str, says: str) -> None:
    problem = first(text)
    assert problem.startswith(f"t.yaml:{where}: "), problem
    assert says in problem, problem


def test_a_crlf_from_env_in_a_header_is_refused_without_showing_it(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FAULTLAB_TEST_EVIL", "tok\r\nX-Injected: 1")
    header = "{X-A: 'Bearer ${env:FAULTLAB_TEST_EVIL}'}"
    problem = first(f"name: t\n{HTTP}, headers: {header}}}}}\n")
    assert problem.startswith("t.yaml:2:84: workload.http.headers.X-A: "), problem
    assert "carriage return" in problem and "${env:FAULTLAB_TEST_EVIL}" in problem
    assert "X-Injected" not in problem and "tok" not in problem


VARS = """\
name: t
vars:
  port: 8080
workload:
  http:
    url: "http://127.0.0.1:${port}/"
    rate: 1/s
    max_in_flight: ${port}
"""


def test_a_bad_var_points_at_its_use_and_names_it() -> None:
    found = problems(VARS, port="abc")
    assert found[0].startswith("t.yaml:6:28: workload.http.url: "), found[0]
    assert "'abc' is not a port number" in found[0]
    assert "${port} is 'abc', from --var port" in found[0]
    assert found[1].startswith("t.yaml:8:20: workload.http.max_in_flight: expected a whole "
                               "number, got 'abc' (hint: ${port} is 'abc', from --var port)")


def test_a_file_var_is_named_with_its_line() -> None:
    assert "${port} is 'x', from vars.port on line 3" in first(VARS.replace("8080", "x"))


def test_a_var_from_the_environment_is_not_shown(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FAULTLAB_TEST_PORT", "secret-port")
    problem = first(VARS.replace("8080", '"${env:FAULTLAB_TEST_PORT}"'))
    assert "secret-port" not in problem and "a value from ${env:...}" in problem


def test_an_unknown_var_override_is_an_error_with_a_did_you_mean() -> None:
    assert first(VARS, prot="1") == (
        "t.yaml:2:1: vars: --var prot=1: the file has no variable 'prot' "
        "(hint: did you mean 'port'?)")
    assert "the file uses no variables" in first("name: t\n", port="1")


def test_an_override_of_a_var_the_file_only_uses_is_fine() -> None:
    assert load("name: t\ndescription: run ${who}\n", who="ci").experiment.description == (
        "run ci")
    load("name: t\n", python="/usr/bin/python3")  # the built-in may always be set


# --- item 9: accepted, and silently changed ----------------------------------------------------

@pytest.mark.parametrize(("text", "where", "says"), [
    (PROXY + "faults: [{kind: bandwidth, target: a, rate: 1B/s, duration: 1s}]\n", "3:45",
     "whole KB/s"),
    (PROXY + "faults: [{kind: latency, target: a, delay: 400us, duration: 1s}]\n", "3:44",
     "whole milliseconds"),
    ("hypothesis: {before: {for: 0s}}\n", "2:28", "whole seconds"),
    (f"{HTTP}}}}}\n".replace("/'", "/a b'"), "2:24", "cannot contain a space"),
    (f"{HTTP}, headers: {{'X A': v}}}}}}\n", "2:71", "not a header name"),
    ("system: {services: {a: {command: 'true', env: {'A=B': v}}}}\n", "2:48",
     "cannot contain '='"),
    ("version: true\n", "1:10", "whole number"),
    ("version: 1.0\n", "1:10", "whole number"),
    ("seed: true\n", "2:7", "whole number"),
    ("targets:\n  a: {proxy: {api: 'http://127.0.0.1:8474', name: db}}\n"
     "  b: {proxy: {api: 'http://127.0.0.1:8474/', name: db}}\n", "4:3",
     "the same proxy as target 'a'"),
    ("system: {services: {s: {command: 'true'}}}\n"
     "targets: {a: {process: {service: s}}, b: {process: {service: s}}}\n", "3:39",
     "the same process as target 'a'"),
    ("targets: {a: {proxy: {listen: '999.999.999.999:80', upstream: '127.0.0.1:81'}}}\n",
     "2:31", "not an IPv4 address"),
    ("targets: {a: {proxy: {listen: '127.0.0.1:٨٠', upstream: '127.0.0.1:81'}}}\n",
     "2:31", "not a port number"),
])
def test_what_changed_silently_is_refused(text: str, where: str, says: str) -> None:
    text = text + "name: t\n" if text.startswith("version") else "name: t\n" + text
    problem = first(text)
    assert problem.startswith(f"t.yaml:{where}: "), problem
    assert says in problem, problem


def test_the_overlap_check_sees_faults_on_one_service_under_two_targets() -> None:
    """Two names for one thing once hid the overlap of faults on it."""
    text = ("name: t\nsystem: {services: {s: {command: 'true'}}}\n"
            "targets: {a: {process: {service: s}}, b: {process: {service: s}}}\n")
    assert any("same process" in p for p in problems(text))


@pytest.mark.parametrize(("written", "value"), [
    ("'x #y'", "x #y"), ("\"'q'\"", "'q'"), ("'  sp  '", "  sp  "), ("'!!str x'", "!!str x"),
    ("'&x y'", "&x y"), ("'[1, 2]'", "[1, 2]")])
def test_a_var_reaches_its_use_as_written(written: str, value: str) -> None:
    """A whole-value ${var} was re-read as YAML: a comment, quotes or a tag vanished."""
    exp = load(f"name: t\nvars: {{a: {written}}}\ndescription: ${{a}}\n").experiment
    assert exp.description == value
    assert load("name: t\ndescription: ${a}\n", a=value).experiment.description == value


@pytest.mark.parametrize(("written", "value"), [("8080", 8080), ("-3", -3), ("0.5", 0.5)])
def test_a_var_that_is_a_plain_decimal_is_a_number(written: str, value: object) -> None:
    from faultlab.experiment.yamlpos import _plain

    assert _plain(written) == value and type(_plain(written)) is type(value)
    assert load("name: t\nseed: ${p}\n", p="8080").experiment.seed == 8080


@pytest.mark.parametrize(("written", "seed"), [
    ("017", 17), ("0x1F", None), ("0b101", None), ("1:30", None), (".inf", None), ("+5", 5)])
def test_yaml_1_1_number_forms_stay_text(written: str, seed: int | None) -> None:
    """YAML 1.1 reads 017 as 15, 1:30 as 90 and 0x1F as 31: `seed: 017` was 15."""
    from faultlab.experiment.yamlpos import _plain

    assert _plain(written) == written
    assert load(f"name: t\ndescription: {written}\n").experiment.description == written
    if seed is None:
        assert "seed: expected a whole number" in first(f"name: t\nseed: {written}\n")
    else:
        assert load(f"name: t\nseed: {written}\n").experiment.seed == seed


def test_a_lone_surrogate_is_refused() -> None:
    """It validated, then `body.encode()` raised UnicodeEncodeError in the run."""
    assert "lone surrogate" in first(f"name: t\n{HTTP}, method: POST, body: \"\\ud800\"}}}}\n")


def test_boolean_and_float_command_arguments_must_be_quoted() -> None:
    assert "in quotes" in first("name: t\nsystem: {services: {a: {command: [sleep, 0.50]}}}\n")
    exp = load("name: t\nsystem: {services: {a: {command: [sleep, '0.50', 5]}}}\n").experiment
    assert exp.system.services["a"].command == ("sleep", "0.50", "5")


# --- warnings ---------------------------------------------------------------------------------

SLO = f"name: t\n{HTTP}}}}}\nslos:\n  - {{name: ok, success_ratio: 0.99%}}\n"


def test_a_ratio_below_one_percent_is_a_warning_not_an_error() -> None:
    loaded = load(SLO)
    assert loaded.experiment.slos[0].success_ratio == pytest.approx(0.0099)
    assert [str(w) for w in loaded.warnings] == [
        "t.yaml:4:31: slos[0].success_ratio: warning: 0.99% is below 1% (hint: did you mean "
        "99%? (or write 0.0099 if 0.99% is meant))"]
    assert load(SLO.replace("0.99%", "99%")).warnings == ()
    assert load(SLO.replace("0.99%", "0.0099")).warnings == ()


def test_validate_prints_warnings_and_still_succeeds(tmp_path: Path) -> None:
    path = tmp_path / "w.yaml"
    path.write_text(SLO, encoding="utf-8")
    run = subprocess.run([sys.executable, "-m", "faultlab", "validate", str(path)],
                         capture_output=True, text=True, timeout=60, check=False)
    assert run.returncode == 0, run.stderr
    assert run.stderr.splitlines() == [
        f"{path}:4:31: slos[0].success_ratio: warning: 0.99% is below 1% (hint: did you "
        "mean 99%? (or write 0.0099 if 0.99% is meant))"]
    assert "1 warning(s)" in run.stdout


def test_validate_refuses_a_bad_var_and_an_unknown_one_with_exit_2(tmp_path: Path) -> None:
    path = tmp_path / "v.yaml"
    path.write_text(VARS, encoding="utf-8")
    for args, says in ((["--var", "port=abc"], "${port} is 'abc'"),
                       (["--var", "prot=1"], "did you mean 'port'?"),
                       (["--var", "port=1", "--var", "port=2"], "given twice")):
        run = subprocess.run([sys.executable, "-m", "faultlab", "validate", str(path), *args],
                             capture_output=True, text=True, timeout=60, check=False)
        assert run.returncode == 2, run.stderr
        assert says in run.stderr and "Traceback" not in run.stderr
