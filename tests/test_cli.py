"""The command line: exit codes, one-line errors, schema."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

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
