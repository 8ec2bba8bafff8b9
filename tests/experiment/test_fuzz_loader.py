"""Property tests: the loader turns *any* text into an experiment or into one-line problems.

Three sources of input: random text over YAML's punctuation, random structures built from the
real keys and dumped as YAML, and mutations of the demo experiments (the mistakes an editor
makes). Anything but :class:`LoadedExperiment` or :class:`ExperimentError` is a loader bug.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from faultlab.experiment import ExperimentError, load_experiment_text
from faultlab.experiment.loader import LoadedExperiment

DEMO_DIR = Path(__file__).parents[2] / "src" / "faultlab" / "demo" / "experiments"
DEMOS = tuple(p.read_text(encoding="utf-8") for p in sorted(DEMO_DIR.glob("*.yaml")))
SOURCE = "fuzz.yaml"
YAML_LINE_BREAK = re.compile("\r\n|[\r\n\x85\u2028\u2029]")

FUZZ = settings(max_examples=300, deadline=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

KEYS = (
    "version", "name", "description", "vars", "system", "services", "command", "cwd", "env",
    "ready", "http", "tcp", "timeout", "interval", "stop_timeout", "targets", "proxy",
    "process", "listen", "upstream", "api", "service", "pidfile", "workload", "url", "method",
    "headers", "body", "rate", "max_in_flight", "expect_status", "slos", "latency", "p50",
    "p99", "max", "success_ratio", "window", "hypothesis", "before", "during", "after", "hold",
    "for", "recover_within", "observe", "faults", "kind", "target", "start", "duration",
    "delay", "jitter", "stream", "after", "signal", "abort", "success_ratio_below",
    "p99_above", "revert", "lease_grace", "seed", "<<",
)
TOKENS = (
    "latency", "bandwidth", "down", "reset", "kill", "pause", "restart", "250ms", "5s", "0s",
    "1m30s", "5sec", "10", "-1s", "200/s", "20", "100KB/s", "1MiB/s", "99%", "150%", "0.5",
    "127.0.0.1:8080", "127.0.0.1", ":99999", "http://127.0.0.1:1/", "ftp://x", "SIGKILL",
    "SIGFOO", "upstream", "downstream", "GET", "get", "${port}", "${nope}", "${env:NOPE_X}",
    "${python}", "${", "}", "${}", "true", "null", "~", "[]", "{}", "''", '"', "&a", "*a",
    "!!binary", "!!python/object:os.system", "!!float", "2024-01-01", "1e400", ".nan", "---",
    "? ", "- ", ": ", "#", "|", ">", "\t", "\\u2028", "é", "0x1F", "1_000", "12:30",
)


def check_outcome(text: str, overrides: dict[str, str] | None = None) -> None:
    try:
        loaded = load_experiment_text(text, SOURCE, overrides)
    except ExperimentError as e:
        check_problems(e, text)
    else:
        assert isinstance(loaded, LoadedExperiment)
        assert loaded.experiment.name


def check_problems(error: ExperimentError, text: str) -> None:
    assert error.problems, "an ExperimentError without problems"
    # YAML also breaks lines at \r, NEL and U+2028/9; a problem may sit past the last break
    last_line = len(YAML_LINE_BREAK.split(text)) + 1
    for problem in error.problems:
        rendered = str(problem)
        assert len(rendered.splitlines()) == 1, rendered
        assert rendered.startswith(f"{SOURCE}:{problem.line}:{problem.column}: ")
        assert 1 <= problem.line <= last_line, rendered
        assert problem.column >= 1, rendered
        assert problem.message, rendered
        assert "Traceback" not in rendered


# --- 1. random text ---------------------------------------------------------------------------

yamlish_text = st.lists(
    st.sampled_from(
        [*"abcdefkmnprstuvy0123456789 \n\n\n  :-,.[]{}#&*!|>'\"%@`?$/\\\t~",
         "\x00", "\x01", "\x85", "\u2028", "\ufeff", "é", "${", "${env:", "- ", ": "]),
    max_size=200).map("".join)


@FUZZ
@given(yamlish_text)
@example("a: &a [*a]\n")  # an alias inside its own anchor once recursed until RecursionError
@example("name: x\nseed: !!float abc\n")  # a bad explicit tag once raised ValueError
@example("name: !!float\n")  # ... and an empty one IndexError
@example("name: a\x01b\n")  # PyYAML's ReaderError once became a two-line message
def test_random_text(text: str) -> None:
    check_outcome(text)


@FUZZ
@given(st.lists(st.sampled_from(KEYS + TOKENS), max_size=40).map(" ".join))
def test_random_token_soup(text: str) -> None:
    check_outcome(text.replace(" - ", "\n- ").replace(" : ", ":\n  "))


# --- 2. random structures of the real keys -----------------------------------------------------

scalars = st.one_of(
    st.sampled_from(TOKENS), st.integers(-5, 70000), st.floats(allow_nan=True), st.booleans(),
    st.none(), st.text(max_size=12))
structures: st.SearchStrategy[Any] = st.recursive(
    scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.dictionaries(st.sampled_from(KEYS), children, max_size=5)),
    max_leaves=25)


@FUZZ
@given(st.dictionaries(st.sampled_from(KEYS), structures, min_size=1, max_size=8),
       st.booleans())
def test_random_structures(doc: dict[str, Any], flow: bool) -> None:
    check_outcome(yaml.safe_dump(doc, default_flow_style=flow, allow_unicode=True))


# --- 3. mutations of the demo files ------------------------------------------------------------

@st.composite
def mutated_demo(draw: st.DrawFn) -> str:
    lines = draw(st.sampled_from(DEMOS)).splitlines(keepends=True)
    for _ in range(draw(st.integers(1, 3))):
        if not lines:
            break
        i = draw(st.integers(0, len(lines) - 1))
        line = lines[i]
        how = draw(st.sampled_from(("delete", "swap", "indent", "dedent", "token", "dup")))
        if how == "delete":
            del lines[i]
        elif how == "swap" and len(line) > 2:
            j = draw(st.integers(0, len(line) - 2))
            lines[i] = line[:j] + line[j + 1] + line[j] + line[j + 2:]
        elif how == "indent":
            lines[i] = " " * draw(st.integers(1, 4)) + line
        elif how == "dedent":
            lines[i] = line[draw(st.integers(1, 4)):] if line.startswith(" ") else line
        elif how == "token" and ":" in line:
            head = line[: line.index(":") + 1]
            lines[i] = f"{head} {draw(st.sampled_from(TOKENS))}\n"
        elif how == "dup":
            lines.insert(i, line)
    return "".join(lines)


@FUZZ
@given(mutated_demo())
def test_mutated_demos(text: str) -> None:
    check_outcome(text)


@FUZZ
@given(st.sampled_from(DEMOS),
       st.dictionaries(st.sampled_from(["variant", "data_port", "python", "storefront_port",
                                        "other"]),
                       st.one_of(st.sampled_from(TOKENS), st.text(max_size=10)), max_size=3))
def test_random_var_overrides(text: str, overrides: dict[str, str]) -> None:
    check_outcome(text, overrides)


def test_the_mutation_strategy_reaches_both_outcomes() -> None:
    """Guard against a fuzzer that only ever produces garbage (or only valid files)."""
    outcomes: set[bool] = set()

    @settings(max_examples=60, deadline=None, database=None)
    @given(mutated_demo())
    def probe(text: str) -> None:
        try:
            load_experiment_text(text, SOURCE)
            outcomes.add(True)
        except ExperimentError:
            outcomes.add(False)

    probe()
    assert outcomes == {True, False}


# --- 4. random --var values where the run takes them as they are --------------------------------

USES = """\
name: fuzz
vars: {host: 127.0.0.1, port: 8080, header: ok, key: K, path: /tmp, listen: "127.0.0.1:16000"}
system:
  services:
    s:
      command: [sh, -c, "exit 0"]
      cwd: "${path}"
      env: {"${key}": "${header}"}
      ready: {http: "http://${host}:${port}/ready"}
targets:
  link: {proxy: {listen: "${listen}", upstream: "${host}:${port}"}}
workload:
  http:
    url: "http://${host}:${port}/"
    rate: 1/s
    headers: {X-Fuzz: "${header}"}
"""

var_values = st.one_of(
    st.sampled_from(["99999", "0", "abc", "٨٠", "[::1]", "::1", "999.999.999.999", "a b",
                     "a\r\nb", "x\x00", "A=B", "", "localhost", "127.0.0.1:1", "[::1]:80",
                     "%zz", "é", "\t", "-1", "65535", "/tmp/x", "a/../b"]),
    st.text(max_size=12))


@FUZZ
@given(st.dictionaries(st.sampled_from(["host", "port", "header", "key", "path", "listen"]),
                       var_values, max_size=4))
def test_what_validates_with_any_var_values_is_what_the_run_takes(
        overrides: dict[str, str]) -> None:
    """The run's own parsers once raised ValueError ("internal error") on values that had
    validated: a port 99999, a CR/LF in a header, a NUL in a path, '=' in an env key."""
    import os

    from faultlab.proxy.addresses import HostPort
    from faultlab.workload.http import HttpRequestSpec

    try:
        loaded = load_experiment_text(USES, SOURCE, overrides)
    except ExperimentError as e:
        check_problems(e, USES)
        return
    exp = loaded.experiment
    http = exp.all_workloads()["http"]
    HttpRequestSpec(url=http.url, headers=tuple(http.headers.items()))  # type: ignore[attr-defined]
    service = exp.system.services["s"]
    assert service.ready is not None and service.ready.http is not None
    HttpRequestSpec(url=service.ready.http)
    proxy = exp.targets["link"].proxy
    assert proxy is not None and proxy.listen is not None and proxy.upstream is not None
    HostPort.parse(proxy.listen)
    HostPort.parse(proxy.upstream)
    for k, v in service.env.items():
        os.fsencode(k), os.fsencode(v)
        assert k and "=" not in k and "\x00" not in k + v
    assert service.cwd and "\x00" not in service.cwd
    for value in http.headers.values():  # type: ignore[attr-defined]
        assert not set(value) & set("\r\n\x00")
