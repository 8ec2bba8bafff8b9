"""Converting Chaos Toolkit experiments: the timeline pauses make, rollbacks, configuration
and secrets, every construct not converted named (in the result, at the top of the file, on
stderr), and bad input as one located line with nothing written."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from faultlab.canvas.importers.common import Text
from faultlab.experiment import load_experiment_text
from faultlab.importers import ImportFileError, Options, import_chaostoolkit
from faultlab.importers.ctk_values import Values

from .conftest import FAST, convert, paths


def _action(name: str, **pauses: float) -> dict[str, Any]:
    out: dict[str, Any] = {"type": "action", "name": name,
                           "provider": {"type": "process", "path": "echo",
                                        "arguments": [name]}}
    if pauses:
        out["pauses"] = pauses
    return out


HYPOTHESIS = {"title": "up", "probes": [
    {"type": "probe", "name": "up", "tolerance": 0,
     "provider": {"type": "process", "path": "true"}}]}


def _faults(experiment: dict[str, Any], options: Options = FAST) -> list[dict[str, Any]]:
    conv = convert(experiment, options)
    exp = load_experiment_text(conv.text).experiment
    return [f.model_dump(mode="json") for f in exp.faults]


def test_pauses_make_the_timeline_and_the_rollbacks_revert_the_check_window() -> None:
    faults = _faults({
        "title": "t", "steady-state-hypothesis": HYPOTHESIS,
        "method": [_action("a", before=1, after=2), _action("b"),
                   {"type": "probe", "name": "look", "pauses": {"after": 1.5},
                    "provider": {"type": "process", "path": "true"}},
                   _action("c", before=0.5)],
        "rollbacks": [_action("undo-a"), _action("undo-b")]})
    by_name = {f["name"]: f for f in faults}
    # a at 1 (its pause before), b after a's 2 s pause, c after the probe's 1.5 s and its own
    assert [(n, by_name[n]["start"]) for n in ("a", "b", "c")] == [
        ("a", "1s"), ("b", "3s"), ("c", "5s")]
    assert all(by_name[n]["revert"] is None for n in ("a", "b", "c"))  # one-off actions
    window = by_name["rollbacks"]
    assert (window["start"], window["duration"]) == ("5s", "2s")  # FAST: 2 s check window
    assert window["revert"] == ["sh", "-c", "echo undo-a; echo undo-b"]  # in order


def test_actions_without_a_pause_between_them_keep_their_order() -> None:
    conv = convert({"title": "t", "method": [_action("a"), _action("b")]})
    starts = {f["name"]: f["start"] for f in conv.experiment["faults"]}
    assert starts == {"a": "0s", "b": "1s"}
    assert any("no pause after the previous action" in m for _, m in conv.notes)


def test_continuous_judges_the_whole_method_and_journals_rollbacks_first() -> None:
    options = Options(every=0.25, steady_for=1, check_for=2, continuous=True)
    faults = _faults({"title": "t", "steady-state-hypothesis": HYPOTHESIS,
                      "method": [_action("a", after=3)], "rollbacks": [_action("undo")]},
                     options)
    window = next(f for f in faults if f["name"] == "rollbacks")
    assert (window["start"], window["duration"]) == ("0s", "5s")


def test_the_hypothesis_is_held_before_and_over_the_check_window() -> None:
    conv = convert({"title": "t", "steady-state-hypothesis": HYPOTHESIS,
                    "method": [_action("a")]})
    exp = load_experiment_text(conv.text).experiment
    assert exp.hypothesis.before.hold == ["up-holds"] and exp.hypothesis.before.duration == 1
    assert exp.hypothesis.during.hold == ["up-holds"]
    assert [f.name for f in exp.faults] == ["a", "hypothesis-check"]


def test_configuration_and_secrets_are_substituted(monkeypatch: pytest.MonkeyPatch) -> None:
    experiment = {
        "title": "subst",
        "configuration": {"base": "http://127.0.0.1:9", "wait": 2,
                          "host": {"type": "env", "key": "CTK_TEST_HOST",
                                   "default": "127.0.0.1"},
                          "api_key": {"type": "env", "key": "CTK_TEST_API_KEY"}},
        "secrets": {"svc": {"token": {"type": "env", "key": "CTK_TEST_TOKEN"},
                            "user": "alice"}},
        "steady-state-hypothesis": {"title": "t", "probes": [
            {"type": "probe", "name": "health", "tolerance": 200,
             "provider": {"type": "http", "url": "${base}/health?who=${user}",
                          "headers": {"Authorization": "Bearer ${token}",
                                      "X-Host": "${host}", "X-Lit": "$${kept} ${unknown}"},
                          "secrets": ["svc"]}}]},
        "method": [{"type": "action", "name": "poke", "pauses": {"after": "${wait}"},
                    "provider": {"type": "process", "path": "echo",
                                 "arguments": ["${api_key}", "${user}"]}}]}
    conv = convert(experiment)
    assert "${env:CTK_TEST_TOKEN}" in conv.text and "${env:CTK_TEST_API_KEY}" in conv.text
    assert "s3cr3t" not in conv.text
    assert any(dotted == "configuration.host" for dotted in
               {".".join(map(str, p)) for p, _ in conv.notes})
    monkeypatch.setenv("CTK_TEST_TOKEN", "s3cr3t-value")
    monkeypatch.setenv("CTK_TEST_API_KEY", "k3y-value")
    loaded = load_experiment_text(conv.text)
    probe = loaded.experiment.workloads["health"].http  # type: ignore[attr-defined]
    assert probe.url == "http://127.0.0.1:9/health?who=alice"
    assert probe.headers == {"Authorization": "Bearer s3cr3t-value", "X-Host": "127.0.0.1",
                             "X-Lit": "${kept} ${unknown}"}
    assert set(loaded.secrets) == {"s3cr3t-value", "k3y-value"}  # masked in every output
    poke = next(f for f in loaded.experiment.faults if f.name == "poke")
    assert poke.inject == ("echo", "k3y-value", "alice")  # type: ignore[attr-defined]
    window = next(f for f in loaded.experiment.faults if f.name == "hypothesis-check")
    assert window.start == 2  # the pause came from configuration


def test_substitution_gives_a_lone_reference_its_type() -> None:
    values = Values(configuration={"n": 3, "s": "x"})
    mapping = values.mapping(None)
    assert values.substitute("${n}", mapping) == 3
    assert values.substitute("n=${n}, $s", mapping) == "n=3, x"
    assert values.substitute({"${s}": ["${n}"]}, mapping) == {"x": [3]}


UNSUPPORTED = {
    "title": "all the things",
    "controls": [{"name": "tracing"}],
    "extensions": [{"name": "x"}],
    "runtime": {"rollbacks": {"strategy": "always"}},
    "something": 1,
    "configuration": {"dyn": {"type": "probe", "name": "p", "provider": {"type": "python"}},
                      "typed": {"type": "env", "key": "CTK_PORT", "env_var_type": "int"}},
    "secrets": {"vault": {"pw": {"type": "vault", "path": "secret/x"}}},
    "steady-state-hypothesis": {"title": "t", "probes": [
        {"type": "probe", "name": "tol-probe", "provider": {"type": "process", "path": "true"},
         "tolerance": {"type": "probe", "name": "check", "provider": {
             "type": "process", "path": "true"}}},
        {"type": "probe", "name": "k8s", "tolerance": True,
         "provider": {"type": "python-k8s"}},
        {"type": "probe", "name": "str-tol", "tolerance": "ok",
         "provider": {"type": "http", "url": "http://127.0.0.1:9/"}},
        {"type": "probe", "name": "filter", "provider": {"type": "http",
                                                           "url": "http://127.0.0.1:9/"},
         "tolerance": {"type": "jsonpath", "path": "$.a[0:2]", "target": "body"}},
        {"type": "probe", "name": "headers", "provider": {"type": "http",
                                                            "url": "http://127.0.0.1:9/"},
         "tolerance": {"type": "regex", "pattern": "x", "target": "headers"}},
        {"type": "probe", "name": "tls", "tolerance": 200, "provider": {
            "type": "http", "url": "https://127.0.0.1:9/", "verify_tls": False}},
        {"type": "probe", "name": "odd", "tolerance": 0, "color": "blue",
         "provider": {"type": "process", "path": "true"}}]},
    "method": [
        {"type": "action", "name": "kill-pod", "provider": {"type": "k8s"}},
        {"type": "action", "name": "ctl", "controls": [{"name": "c"}],
         "provider": {"type": "process", "path": "true", "timeout": "soon"}}],
    "rollbacks": [{"type": "probe", "name": "rb-probe",
                   "provider": {"type": "process", "path": "true"}}],
}

UNSUPPORTED_PATHS = {
    "controls", "extensions", "runtime", "something", "configuration.dyn",
    "configuration.typed", "secrets.vault.pw",
    "steady-state-hypothesis.probes[0].tolerance",
    "steady-state-hypothesis.probes[1].provider.type",
    "steady-state-hypothesis.probes[2].tolerance",
    "steady-state-hypothesis.probes[3].tolerance.path",
    "steady-state-hypothesis.probes[4].tolerance",
    "steady-state-hypothesis.probes[5].provider.verify_tls",
    "steady-state-hypothesis.probes[6].color",
    "method[0].provider.type", "method[1].controls", "method[1].provider.timeout",
    "rollbacks[0]",
}


def test_every_construct_not_converted_is_named() -> None:
    conv = convert(UNSUPPORTED)
    assert paths(conv) == UNSUPPORTED_PATHS
    assert any("'k8s' is not supported" in m for _, m in conv.unconverted)
    header = conv.text.split("\n\n", 1)[0]
    for path in UNSUPPORTED_PATHS:  # at the top of the file, located
        assert f": {path}: " in header, path
    assert f"Not converted ({len(UNSUPPORTED_PATHS)}):" in header
    load_experiment_text(conv.text)  # and what was converted still loads


def test_the_cli_names_them_on_stderr_and_writes_the_file(tmp_path: Path) -> None:
    source = tmp_path / "exp.yaml"  # YAML as Chaos Toolkit also reads it
    source.write_text(yaml.safe_dump(UNSUPPORTED, sort_keys=False))
    out = tmp_path / "out.yaml"
    result = _cli("import", "chaostoolkit", str(source), "-o", str(out), "--every", "250ms")
    assert result.returncode == 0, result.stderr
    lines = [ln for ln in result.stderr.splitlines() if "note:" not in ln]
    assert len(lines) == len(UNSUPPORTED_PATHS)
    for path in UNSUPPORTED_PATHS:
        assert any(ln.startswith(f"faultlab: {source}:") and f": {path}: " in ln
                   for ln in lines), path
    assert f"{len(UNSUPPORTED_PATHS)} construct(s) not converted" in result.stdout
    assert _cli("validate", str(out)).returncode == 0
    strict = _cli("import", "chaostoolkit", str(source), "-o", str(tmp_path / "s.yaml"),
                  "--strict")
    assert strict.returncode == 1 and not (tmp_path / "s.yaml").exists()


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "faultlab", *args], capture_output=True,
                          text=True, timeout=60, check=False)


# (input text, the path named, the text the line and column point at, what it says)
BAD = [
    ("[1, 2]", "", "[1", "is a mapping"),
    ('{"method": []}', "title: ", "{", "needs a title"),
    ('{"title": "t",\n "method": [1,]}', "", "]}", "invalid JSON"),
    ('{"title": "t", "method": {"a": 1}}', "method: ", '{"a"', "a list of actions"),
    ('{"title": "t", "method": [],\n "steady-state-hypothesis": {"title": "h", "probes": '
     '[{"type": "probe", "name": "p", "provider": {"type": "process", "path": "true"}}]}}',
     "steady-state-hypothesis.probes[0]: ", '{"type": "probe"', "needs a tolerance"),
    ('{"title": "t", "method": [{"type": "probe", "name": "p", "tolerance": {"type": '
     '"regex", "pattern": "(", "target": "body"}, "provider": {"type": "http", "url": '
     '"http://x/"}}], "steady-state-hypothesis": {"title": "h", "probes": [{"ref": "p"}]}}',
     "method[0].tolerance.pattern: ", '"("', "not a regular expression"),
    ('{"title": "t", "method": [{"ref": "nope"}]}', "method[0].ref: ", '"nope"',
     "names no activity"),
    ('{"title": "t", "method": [{"type": "act", "provider": {}}]}', "method[0].type: ",
     '"act"', "action or probe"),
    ('{"title": "t", "method": [{"type": "action", "name": "a", "pauses": {"after": -1}, '
     '"provider": {"type": "process", "path": "true"}}]}', "method[0].pauses.after: ",
     "-1", "a pause is seconds"),
]


@pytest.mark.parametrize(("text", "path", "at", "what"), BAD)
def test_bad_input_is_one_located_line(text: str, path: str, at: str, what: str) -> None:
    with pytest.raises(ImportFileError) as caught:
        import_chaostoolkit(Text(text, "x.json"), FAST)
    first = str(caught.value.problems[0])
    before = text[:text.index(at)]
    line, column = before.count("\n") + 1, len(before) - before.rfind("\n")
    assert first.startswith(f"x.json:{line}:{column}: {path}") and what in first, first
    assert "\n" not in first and "(hint: " in first


def test_bad_input_leaves_the_output_untouched(tmp_path: Path) -> None:
    source = tmp_path / "bad.json"
    source.write_text('{"title": "t", "method": "no"}')
    out = tmp_path / "out.yaml"
    out.write_text("# mine\n")
    result = _cli("import", "chaostoolkit", str(source), "-o", str(out))
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
    assert result.stderr.startswith(f"faultlab: {source}:1:26: method: ")
    assert out.read_text() == "# mine\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.json", "out.yaml"]


def test_yaml_and_json_convert_alike(tmp_path: Path) -> None:
    experiment = {"title": "same", "steady-state-hypothesis": HYPOTHESIS,
                  "method": [_action("a", after=1)], "rollbacks": [_action("undo")]}
    (tmp_path / "e.json").write_text(json.dumps(experiment, indent=2))
    (tmp_path / "e.yaml").write_text(yaml.safe_dump(experiment))
    a = import_chaostoolkit(tmp_path / "e.json", FAST)
    b = import_chaostoolkit(tmp_path / "e.yaml", FAST)
    assert a.experiment == b.experiment and a.unconverted == b.unconverted == []
