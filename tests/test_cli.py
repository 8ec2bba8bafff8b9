"""The command line: exit codes, one-line errors, schema."""

from __future__ import annotations

import gc
import json
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NamedTuple

import pytest

from faultlab.demo.suite import experiment_files


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "faultlab", *args], capture_output=True,
                          text=True, timeout=60, check=False)


def test_schema_is_json_schema_with_the_top_level_keys() -> None:
    result = cli("schema")
    assert result.returncode == 0
    schema = json.loads(result.stdout)
    assert {"name", "targets", "faults", "slos", "hypothesis", "workload"} <= set(
        schema["properties"])


def test_validate_ok_and_errors() -> None:
    ok = cli("validate", str(experiment_files()["slow-data"]))
    assert ok.returncode == 0
    assert "ok" in ok.stdout


def test_run_missing_file_is_invalid_input(tmp_path: Path) -> None:
    result = cli("run", str(tmp_path / "nope.yaml"))
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith(f"{tmp_path / 'nope.yaml'}:1:1:")
    assert "Traceback" not in result.stderr


def test_bad_var_is_invalid_input() -> None:
    result = cli("validate", str(experiment_files()["slow-data"]), "--var", "novalue")
    assert result.returncode == 2
    assert "NAME=VALUE" in result.stderr


def test_recover_on_a_directory_without_journal(tmp_path: Path) -> None:
    result = cli("recover", str(tmp_path))
    assert result.returncode == 2
    assert "journal.jsonl" in result.stderr


def test_help_lists_every_command() -> None:
    result = cli("--help")
    assert result.returncode == 0
    for command in ("run", "validate", "schema", "recover", "demo", "proxy"):
        assert command in result.stdout


def test_run_refuses_a_run_directory_that_holds_a_run(tmp_path: Path) -> None:
    (tmp_path / "journal.jsonl").write_text("")
    exp = tmp_path / "e.yaml"
    exp.write_text("name: e\n")
    result = cli("run", str(exp), "--run-dir", str(tmp_path))
    assert result.returncode == 2
    assert "already holds a run" in result.stderr


def test_check_valid_invalid_and_bad_input(tmp_path: Path) -> None:
    from faultlab.history import Recorder

    def history(read_value: int) -> Path:
        path = tmp_path / f"h{read_value}.jsonl"
        with open(path, "w") as sink:
            rec = Recorder(sink=sink)
            rec.invoke(0, "write", 1).ok()
            rec.invoke(1, "read", None).ok(read_value)
            rec.close()
        return path

    valid = cli("check", str(history(1)), "--model", "register")
    assert valid.returncode == 0, valid.stdout + valid.stderr
    assert "valid" in valid.stdout
    stale = cli("check", str(history(7)), "--model", "register")
    assert stale.returncode == 1
    assert "not linearizable" in stale.stdout
    bad = tmp_path / "bad.jsonl"
    bad.write_text("{not json\n")
    broken = cli("check", str(bad))
    assert broken.returncode == 2
    assert broken.stderr.startswith(f"{bad}:1:")
    assert "Traceback" not in broken.stderr
    unknown = cli("check", str(history(1)), "--checker", "sets")
    assert unknown.returncode == 2


# --- the quick commands' own parser (faultlab.cli.QUICK) agrees with the typer app -----------

def test_quick_commands_declare_the_typer_apps_options() -> None:
    import inspect

    import typer.main

    from faultlab.cli import QUICK, app

    commands = typer.main.get_command(app).commands  # type: ignore[attr-defined]
    for name, quick in QUICK.items():
        params = commands[name].params
        arguments = [p for p in params if not p.opts[0].startswith("-")]
        options = {p.name: p for p in params if p.opts[0].startswith("-")}
        assert tuple(p.name for p in arguments) == quick.arguments, name
        assert sum(p.required for p in arguments) == quick.required, name
        assert set(options) == {o.dest for o in quick.options}, name
        body = inspect.signature(quick.body).parameters
        for opt in quick.options:
            typer_opt = options[opt.dest]
            assert set(typer_opt.opts) == set(opt.names), (name, opt.dest)
            assert set(typer_opt.secondary_opts) == set(opt.off), (name, opt.dest)
            assert typer_opt.is_flag == (opt.parse is None), (name, opt.dest)
            assert typer_opt.multiple == opt.multiple, (name, opt.dest)
            # the body's default is what typer passes when the option is not given
            default = body[opt.dest].default
            assert (list(default) if opt.multiple else default) == typer_opt.default, (
                name, opt.dest)


_PLAIN = [
    ["validate", "e.yaml"], ["validate", "e.yaml", "--var", "a=1", "-v", "b=2"],
    ["validate", "--var=a=1", "e.yaml"], ["validate", "e.yaml", "--var", "novalue"],
    ["check", "h.jsonl"], ["check", "h.jsonl", "--model", "register", "--checker", "set",
                           "--time-limit", "2.5", "--independent"],
    ["check", "--no-independent", "h.jsonl", "--time-limit=30"],
    ["check", "h.jsonl", "--time-limit", "0"], ["check", "h.jsonl", "--model="],
    ["run", "e.yaml"], ["run", "e.yaml", "-q", "--seed", "7", "--runs-dir", "r", "--run-dir",
                        "d", "--dry-run", "--metrics", "127.0.0.1:9464", "-v", "x=1"],
    ["run", "--from", "runs/old", "--seed", "0"], ["run"], ["version"],
]

#: lines the quick parser leaves to typer (help, usage errors, values typer reads its way)
_LEFT_TO_TYPER = [
    [], ["--help"], ["check", "--help"], ["check"], ["check", "h", "--model"],
    ["check", "h", "--bogus"], ["check", "h", "--model", "a", "--model", "b"],
    ["check", "h", "--time-limit", "1e3"], ["check", "h", "--time-limit", "-1"],
    ["check", "h", "--independent=yes"], ["validate", "a", "b"], ["validate", "e", "-vx=1"],
    ["validate", "e", "--", "f"], ["run", "e", "--seed", "007"], ["run", "-"],
    ["run", "e", "-qv", "x=1"], ["version", "x"], ["schema"], ["proxy", "serve"],
]


def test_quick_parser_gives_the_bodies_what_typer_gives_them(monkeypatch: pytest.MonkeyPatch
                                                             ) -> None:
    """Each plain line, parsed by faultlab.cli.parse_quick and by the typer app, reaches the
    same body with the same arguments (the bodies replaced by recorders: nothing runs)."""
    import inspect

    from typer.testing import CliRunner

    from faultlab import cli
    from faultlab.cli import QUICK, app, parse_quick

    def bound(body: Any, args: Any, kwargs: Any) -> dict[str, Any]:
        call = inspect.signature(body).bind(*args, **kwargs)
        call.apply_defaults()
        return {k: list(v) if isinstance(v, list | tuple) else v
                for k, v in call.arguments.items()}

    originals = {name: quick.body for name, quick in QUICK.items()}
    calls: list[tuple[str, dict[str, Any]]] = []
    for name, body in originals.items():
        def record(*args: Any, _name: str = name, _body: Any = body, **kwargs: Any) -> None:
            calls.append((_name, bound(_body, args, kwargs)))
        monkeypatch.setattr(cli, name, record)
    for argv in _PLAIN:
        quick = parse_quick(argv)
        assert quick is not None, argv
        body, args, kwargs = quick
        fast = (argv[0], bound(body, args, kwargs))
        calls.clear()
        result = CliRunner().invoke(app, argv)
        assert result.exit_code == 0, (argv, result.output)
        assert calls == [fast], argv
    for argv in _LEFT_TO_TYPER:
        assert parse_quick(argv) is None, argv


def _both_ways(*args: str) -> tuple[subprocess.CompletedProcess[str], ...]:
    """The command run by faultlab's entry point (the quick parser) and by the typer app."""
    typer_app = "from faultlab.cli_app import app; app(prog_name='faultlab')"
    return (cli(*args), subprocess.run([sys.executable, "-c", typer_app, *args],
                                       capture_output=True, text=True, timeout=60,
                                       check=False))


def test_quick_and_typer_paths_print_the_same(tmp_path: Path) -> None:
    good = tmp_path / "h.jsonl"
    good.write_text('{"process": 0, "f": "write", "value": 1, "invoke_ns": 0, '
                    '"complete_ns": 10, "outcome": "ok"}\n')
    bad = tmp_path / "bad.jsonl"
    bad.write_text("{not json\n")
    broken = tmp_path / "broken.yaml"
    broken.write_text("name: x\nfaults:\n  - {kind: kil, target: local}\nslos: 3\n")
    held = tmp_path / "held"
    held.mkdir()
    (held / "journal.jsonl").write_text("")
    lines = [("check", str(good)), ("check", str(bad)), ("check", str(good), "--model", "x"),
             ("check", str(good), "--time-limit", "0"),
             ("validate", str(experiment_files()["slow-data"])), ("validate", str(broken)),
             ("validate", str(broken), "--var", "a=1"), ("run", str(tmp_path / "nope.yaml")),
             ("run",), ("run", str(experiment_files()["slow-data"]), "--run-dir", str(held)),
             ("version",)]
    def said(done: subprocess.CompletedProcess[str]) -> tuple[int, str, str]:
        # a check's time taken ("0.004 s") is the only thing that may differ between runs
        return (done.returncode, re.sub(r"\d+\.\d+ s\)", "T s)", done.stdout),
                re.sub(r"\d+\.\d+ s\)", "T s)", done.stderr))

    for line in lines:
        quick, typer_way = _both_ways(*line)
        assert said(quick) == said(typer_way), line


def test_check_and_validate_import_neither_typer_nor_unused_kinds(tmp_path: Path) -> None:
    history = tmp_path / "h.jsonl"
    history.write_text('{"process": 0, "f": "write", "value": 1, "invoke_ns": 0, '
                       '"complete_ns": 10, "outcome": "ok"}\n')
    experiment = tmp_path / "e.yaml"
    experiment.write_text("name: e\ntargets:\n  victim: {process: {pidfile: /nonexistent}}\n"
                          "faults:\n  - {target: victim, kind: kill}\n")
    probe = ("import json, sys\nfrom faultlab.cli import main\n"
             "sys.argv = ['faultlab', *sys.argv[1:]]\n"
             "try:\n    main()\nexcept SystemExit:\n    pass\n"
             "print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in ("
             "'typer', 'pydantic') or m.startswith(('faultlab.faults.kinds.', "
             "'faultlab.lab.netfaults')))), file=sys.stderr)\n")
    for args, expected in ((["check", str(history)], []),
                           (["validate", str(experiment)], ["faultlab.faults.kinds.kill",
                                                            "faultlab.faults.kinds.process"])):
        done = subprocess.run([sys.executable, "-c", probe, *args], capture_output=True,
                              text=True, timeout=60, check=False)
        assert done.returncode == 0, done.stderr
        loaded = json.loads(done.stderr.strip().splitlines()[-1])
        assert not [m for m in loaded if m.startswith("typer")], args
        kinds = [m for m in loaded if m.startswith("faultlab.")]
        assert kinds == expected, args
        if args[0] == "check":
            assert not loaded, "check needs no pydantic"


#: what `import faultlab.cli; main()` must leave out of sys.modules for each quick command
#: (imported where they are needed: awaiting, reading histories, logging, a lab, a typo)
_LAZY = {
    "validate": ("asyncio", "logging", "difflib", "faultlab.history", "faultlab.workload.clients",
                 "faultlab.journal", "faultlab.lab.control", "rich", "faultlab.run",
                 "faultlab.record", "faultlab.report",
                 # sections the file does not give (plugins.Lazy)
                 "faultlab.slo", "faultlab.workload", "faultlab.lab.spec",
                 "faultlab.experiment.services"),
    "run": ("faultlab.history", "faultlab.lab.control", "faultlab.workload.clients.redis",
            "difflib", "rich"),  # rich: only on a terminal (faultlab.run.terminal)
}

_MODULES_PROBE = (
    "import json, sys\nfrom faultlab.cli import main\n"
    "sys.argv = ['faultlab', *sys.argv[1:]]\ncode = None\n"
    "try:\n    main()\nexcept SystemExit as e:\n    code = e.code\n"
    "tok = sys.modules.get('tokenize')\n"
    "print(json.dumps({'code': code, 'modules': sorted(sys.modules), 'tokenize_compiled': "
    "bool(tok and tok._compile.cache_info().currsize)}), file=sys.stderr)\n")


def _modules_after(*args: str) -> dict[str, Any]:
    done = subprocess.run([sys.executable, "-c", _MODULES_PROBE, *args], capture_output=True,
                          text=True, timeout=120, check=False)
    assert done.stderr.strip(), done
    out: dict[str, Any] = json.loads(done.stderr.strip().splitlines()[-1])
    return out


def _loaded(modules: list[str], names: tuple[str, ...]) -> list[str]:
    return [m for m in modules if m in names or m.startswith(tuple(n + "." for n in names))]


class Trivial(NamedTuple):
    experiment: Path  # one fault: SIGKILL the victim, found by its pid file
    victim: subprocess.Popen[bytes]


@pytest.fixture
def trivial(tmp_path: Path) -> Iterator[Trivial]:
    """A trivial experiment (as benchmarks/run_startup.py's) and its victim process."""
    victim = subprocess.Popen(["sleep", "60"])
    try:
        pidfile = tmp_path / "victim.pid"
        pidfile.write_text(f"{victim.pid}\n")
        experiment = tmp_path / "e.yaml"
        experiment.write_text(f"name: e\ntargets:\n  victim: {{process: {{pidfile: {pidfile}}}}}"
                              "\nfaults:\n  - {target: victim, kind: kill, signal: SIGKILL}\n")
        yield Trivial(experiment, victim)
    finally:
        victim.kill()
        victim.wait()


def test_validate_and_a_trivial_run_leave_what_they_do_not_need_unimported(
        tmp_path: Path, trivial: Trivial) -> None:
    # the start-up budget of issue 14: each of these is imported where it is used, so a
    # command that does not use it does not pay for it (times are the benchmark's business:
    # benchmarks/run_startup.py)
    experiment, victim = trivial
    validated = _modules_after("validate", str(experiment))
    assert validated["code"] is None
    assert _loaded(validated["modules"], _LAZY["validate"]) == []
    # pydantic reads each default_factory's signature; a builtin's (list) is parsed
    # with tokenize, whose first use compiles its token regex
    assert not validated["tokenize_compiled"]
    ran = _modules_after("run", str(experiment), "--quiet", "--run-dir",
                         str(tmp_path / "run"))
    assert ran["code"] == 0
    assert victim.wait(timeout=10) == -9, "the run did not kill the victim"
    assert _loaded(ran["modules"], _LAZY["run"]) == []
    assert "faultlab.report" in ran["modules"]  # it did write the report


_GC_PROBE = (
    "import gc, json, sys\n"
    "import faultlab.check, faultlab.run.execute as ex\n"
    "seen = {}\n"
    "def state():\n    return [gc.isenabled(), gc.get_freeze_count() > 0]\n"
    "async def run_spy(runner, console=None):\n"
    "    seen['work'] = state()\n    return await run_real(runner, console)\n"
    "def read_spy(*args, **kwargs):\n"
    "    seen['work'] = state()\n    return read_real(*args, **kwargs)\n"
    "run_real, ex.run_async = ex.run_async, run_spy\n"
    "read_real, faultlab.check.read_history = faultlab.check.read_history, read_spy\n"
    "from faultlab.cli import main\n"
    "sys.argv = ['faultlab', *sys.argv[1:]]\n"
    "try:\n    main()\nexcept SystemExit:\n    pass\n"
    "seen['end'] = state()\n"
    "print(json.dumps(seen), file=sys.stderr)\n")


def test_the_collector_is_held_during_start_up_and_runs_during_the_work(
        tmp_path: Path, trivial: Trivial) -> None:
    # faultlab.startup: held from main's first line, frozen and running again once a command
    # starts its work (a run's loop, a check's reading); validate ends within its start-up
    experiment, victim = trivial
    history = tmp_path / "h.jsonl"
    history.write_text('{"process": 0, "f": "write", "value": 1, "invoke_ns": 0, '
                       '"complete_ns": 10, "outcome": "ok"}\n')
    seen = {}
    for args in (["validate", str(experiment)], ["check", str(history)],
                 ["run", str(experiment), "--quiet", "--run-dir", str(tmp_path / "run")]):
        done = subprocess.run([sys.executable, "-c", _GC_PROBE, *args], capture_output=True,
                              text=True, timeout=120, check=False)
        seen[args[0]] = json.loads(done.stderr.strip().splitlines()[-1])
    assert seen["validate"] == {"end": [False, False]}
    assert seen["check"] == {"work": [True, True], "end": [True, True]}
    assert seen["run"] == {"work": [True, True], "end": [True, True]}
    assert victim.wait(timeout=10) == -9, "the run did not kill the victim"


def test_settle_leaves_a_collector_someone_else_disabled_alone() -> None:
    from faultlab import startup

    was = gc.isenabled()
    gc.disable()
    try:
        startup.hold()
        startup.settle()
        assert not gc.isenabled()
    finally:
        if was:
            gc.enable()
