"""``faultlab check``: exit codes, one-line located errors, and options refused when bad.

Exit codes: 0 valid, 1 invalid, 2 invalid input (including an empty history), 3 unknown
(budget ran out, or nothing to check), 4 internal error (a bug; never expected).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from faultlab.cli import app

RUNNER = CliRunner()


def check(*args: str) -> tuple[int, str, str]:
    result = RUNNER.invoke(app, ["check", *args])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    assert "Traceback" not in result.stdout + result.stderr
    assert "internal error" not in result.stderr
    return result.exit_code, result.stdout, result.stderr


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


W = '{"process": 0, "f": "write", "value": 1, "invoke_ns": 0, "complete_ns": 10, "outcome": "ok"}'
R = '{"process": 1, "f": "read", "value": %s, "invoke_ns": 20, "complete_ns": 30, "outcome": "ok"}'


def test_valid_invalid_and_the_explanation(tmp_path: Path) -> None:
    assert check(str(write(tmp_path, "v.jsonl", W + "\n" + R % 1)))[0] == 0
    code, out, _ = check(str(write(tmp_path, "i.jsonl", W + "\n" + R % 2)), "--model",
                         "register")
    assert code == 1 and "not linearizable" in out and "None" not in out


@pytest.mark.parametrize(("name", "text"), [
    ("h.jsonl", ""), ("h.jsonl", "\n\n"), ("h.edn", ""), ("h.edn", "[]"), ("h.txt", ""),
    ("jepsen.log", "INFO jepsen.core - nothing happened\n")])
def test_an_empty_history_is_invalid_input(tmp_path: Path, name: str, text: str) -> None:
    path = write(tmp_path, name, text)
    code, out, err = check(str(path))
    assert code == 2 and out == ""
    assert err.startswith(f"{path}:1:1: no operations (was the recording lost?)")


def test_nothing_that_took_effect_is_unknown(tmp_path: Path) -> None:
    failed = W.replace('"ok"', '"fail"')
    code, out, _ = check(str(write(tmp_path, "f.jsonl", failed)))
    assert code == 3 and "unknown" in out and "nothing to check" in out


@pytest.mark.parametrize("limit", ["nan", "NaN", "inf", "-inf", "-1", "0", "0.0", "-0"])
def test_time_limits_that_are_not_positive_finite_seconds_are_refused(
        tmp_path: Path, limit: str) -> None:
    code, out, err = check(str(write(tmp_path, "v.jsonl", W)), "--time-limit", limit)
    assert code == 2 and out == ""
    assert err.startswith("faultlab: --time-limit ") and "finite number of seconds" in err
    assert len(err.strip().splitlines()) == 1


def test_options_are_checked_before_the_history_is_read(tmp_path: Path) -> None:
    missing = str(tmp_path / "missing.jsonl")
    assert check(missing, "--model", "registr")[2].startswith(
        "faultlab: --model: unknown model 'registr': did you mean 'register'?")
    assert "unknown checker" in check(missing, "--checker", "sets")[2]
    code, _, err = check(str(write(tmp_path, "v.jsonl", W)), "--independent")
    assert code == 2 and "Jepsen histories" in err


def test_every_problem_is_one_located_line(tmp_path: Path) -> None:
    path = write(tmp_path, "h.jsonl", W + "\n" + W.replace('"invoke_ns": 0', '"invoke_ns": 5')
                 + "\n" + '{"process": 2, "f": "cas", "value": 1}\n')
    code, _, err = check(str(path))
    assert code == 2
    lines = err.strip().splitlines()
    assert [line.split(": ")[0] for line in lines] == [f"{path}:2:1", f"{path}:3:1"]
    assert "two operations open at once" in lines[0] and "missing field" in lines[1]


def test_model_errors_are_located(tmp_path: Path) -> None:
    path = write(tmp_path, "h.jsonl", W + "\n" + W.replace('"write", "value": 1',
                                                           '"cas", "value": 1')
                 .replace('"process": 0', '"process": 3'))
    code, _, err = check(str(path))
    assert code == 2 and err.startswith(f"{path}:2:1: operation #1 (cas 1): a cas value")


def test_set_and_queue_checkers_take_json_objects(tmp_path: Path) -> None:
    add = '{"process": 0, "f": "%s", "value": {"id": 1, "tags": ["a"]}, "invoke_ns": 0, ' \
          '"complete_ns": 1, "outcome": "ok"}'
    read = '{"process": 1, "f": "read", "value": [{"tags": ["a"], "id": 1}], "invoke_ns": 2, ' \
           '"complete_ns": 3, "outcome": "ok"}'
    assert check(str(write(tmp_path, "s.jsonl", add % "add" + "\n" + read)), "--checker",
                 "set")[0] == 0
    deq = read.replace('"read"', '"dequeue"').replace('[{"tags": ["a"], "id": 1}]',
                                                      '{"tags": ["a"], "id": 1}')
    assert check(str(write(tmp_path, "q.jsonl", add % "enqueue" + "\n" + deq)), "--checker",
                 "queue")[0] == 0


def test_space_separated_jepsen_log_and_its_times(tmp_path: Path) -> None:
    log = ("INFO  [2017-03-20 12:45:01,000] jepsen worker 0 - jepsen.util 0 :invoke :write 1\n"
           "INFO  [2017-03-20 12:45:01,250] jepsen worker 0 - jepsen.util 0 :ok :write 1\n"
           "INFO  [2017-03-20 12:45:01,500] jepsen worker 1 - jepsen.util 1 :invoke :read nil\n"
           "INFO  [2017-03-20 12:45:01,750] jepsen worker 1 - jepsen.util 1 :ok :read 2\n")
    code, out, _ = check(str(write(tmp_path, "jepsen.log", log)), "--model", "register")
    assert code == 1 and "[0.500000s–0.750000s]" in out and "0.000000s–0.000000s" not in out
    text = "0 :invoke :write 1\n0 :ok :write 1\n1 :invoke :read nil\n1 :ok :read 2\n"
    code, out, _ = check(str(write(tmp_path, "history.txt", text)), "--model", "register")
    assert code == 1 and "[lines 3–4]" in out and "s–" not in out


def test_a_mistake_on_line_5_of_a_million_lines_fails_fast(tmp_path: Path) -> None:
    """Through the real command: only line 5 is reported, the end of the file (not UTF-8)
    is never reached."""
    good = '{"process": 0, "f": "read", "invoke_ns": 1, "complete_ns": 1, "outcome": "ok"}\n'
    path = tmp_path / "big.jsonl"
    try:
        path.write_bytes((good * 4 + "{oops\n" + good * 1_000_000).encode() + b"\xff\n")
        done = subprocess.run([sys.executable, "-m", "faultlab", "check", str(path)],
                              capture_output=True, text=True, timeout=600, check=False)
        assert done.returncode == 2
        assert done.stderr.splitlines() == [
            f"{path}:5:1: not JSON: Expecting property name enclosed in double quotes at "
            "column 2 (hint: each line must be one JSON object describing one operation)"]
    finally:
        path.unlink()
