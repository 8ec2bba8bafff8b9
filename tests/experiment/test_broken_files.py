"""The corpus of broken experiment files: each names the first problem it must produce.

Every file in ``broken/`` starts with ``# expect: LINE:COL: <part of the message>`` and may
add ``# hint: <part of the hint>``. A new mistake worth a clear message is one new file.
"""

from __future__ import annotations

import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from faultlab.experiment import ExperimentError, load_experiment

BROKEN = Path(__file__).parent / "broken"
UNSET_ENV = "FAULTLAB_TEST_UNSET_TOKEN"  # used by 25-env-not-set.yaml
_EXPECT = re.compile(r"# expect: (\d+):(\d+): (.+)")
_HINT = re.compile(r"# hint: (.+)")


@dataclass(frozen=True)
class Expectation:
    line: int
    column: int
    message: str
    hint: str | None


def expectation(path: Path) -> Expectation:
    first, second, *_ = [*path.read_text(encoding="utf-8").splitlines(), "", ""]
    m = _EXPECT.fullmatch(first)
    assert m, f"{path.name}: the first line must be '# expect: LINE:COL: message'"
    h = _HINT.fullmatch(second)
    return Expectation(int(m[1]), int(m[2]), m[3], h[1] if h else None)


def assert_well_formed(error: ExperimentError, source: str) -> None:
    """Every problem is one line that starts with the file name; no traceback leaks."""
    assert error.problems
    for problem in error.problems:
        rendered = str(problem)
        assert len(rendered.splitlines()) == 1, rendered
        assert rendered.startswith(f"{source}:{problem.line}:{problem.column}: "), rendered
        assert problem.line >= 1 and problem.column >= 1
    assert "Traceback" not in str(error)


def load_error(path: Path) -> ExperimentError:
    with pytest.raises(ExperimentError) as info:
        load_experiment(path)
    assert_well_formed(info.value, str(path))
    return info.value


def test_corpus_is_large_and_tidy() -> None:
    files = sorted(BROKEN.iterdir())
    assert len(files) >= 35
    for f in files:
        assert re.fullmatch(r"\d\d-[a-z0-9-]+\.yaml", f.name), f.name
    numbers = [f.name[:2] for f in files]
    assert len(set(numbers)) == len(numbers), "two files share a number"


@pytest.mark.parametrize("path", sorted(BROKEN.glob("*.yaml")), ids=lambda p: p.stem)
def test_broken_file(path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(UNSET_ENV, raising=False)
    want = expectation(path)
    first = load_error(path).problems[0]
    assert (first.line, first.column) == (want.line, want.column), str(first)
    assert want.message in first.message, str(first)
    if want.hint is not None:
        assert want.hint in first.hint, str(first)


# --- files YAML cannot hold: written by the tests ----------------------------------------------

def test_nul_byte_points_at_the_byte(tmp_path: Path) -> None:
    path = tmp_path / "nul.yaml"
    path.write_bytes(b"name: pages\ndescription: a\x00b\n")
    first = load_error(path).problems[0]
    assert (first.line, first.column, first.message) == (2, 15, "the file contains a NUL byte")


def test_non_utf8_file_points_at_the_byte(tmp_path: Path) -> None:
    path = tmp_path / "latin1.yaml"
    path.write_bytes(b"name: pages\ndescription: caf\xe9 cr\xe8me\n")  # Latin-1
    first = load_error(path).problems[0]
    assert (first.line, first.column) == (2, 17)
    assert "not UTF-8" in first.message and "0xe9" in first.message
    assert "UTF-8" in first.hint


def test_control_character_is_one_line(tmp_path: Path) -> None:
    path = tmp_path / "ctrl.yaml"
    path.write_bytes(b"name: pages\ndescription: bell\x07\n")
    first = load_error(path).problems[0]
    assert (first.line, first.column) == (2, 18)
    assert "U+0007" in first.message


def test_missing_file_is_a_problem_not_an_oserror(tmp_path: Path) -> None:
    first = load_error(tmp_path / "nope.yaml").problems[0]
    assert "cannot read file" in first.message


def test_every_problem_is_reported_in_file_order(tmp_path: Path) -> None:
    path = tmp_path / "many.yaml"
    path.write_text("name: pages\nworkload:\n  http: {url: 'ftp://x', rate: 5}\n"
                    "slos:\n  - {name: fast, latency: {p99: 3}, colour: red}\n",
                    encoding="utf-8")
    problems = load_error(path).problems
    where = [(p.line, p.column, p.path) for p in problems]
    assert where == [(3, 15, "workload.http.url"), (3, 32, "workload.http.rate"),
                     (5, 33, "slos[0].latency.p99"), (5, 37, "slos[0].colour")]


def test_key_with_a_line_break_still_renders_one_line(tmp_path: Path) -> None:
    path = tmp_path / "quoted-key.yaml"
    path.write_text('name: pages\n"tar\\ngets": {}\n', encoding="utf-8")
    error = load_error(path)
    assert "unknown key 'tar\\ngets'" in str(error.problems[0])


# --- the command line -------------------------------------------------------------------------

def test_cli_validate_prints_one_line_per_problem_and_exits_2(tmp_path: Path) -> None:
    path = tmp_path / "cli.yaml"
    path.write_text("name: pages\nworkload:\n  http: {url: 'ftp://x', rate: 5}\n"
                    "faults:\n  - {target: nowhere, kind: down, duration: 5}\n",
                    encoding="utf-8")
    run = subprocess.run([sys.executable, "-m", "faultlab", "validate", str(path)],
                         capture_output=True, text=True, timeout=60, check=False)
    assert run.returncode == 2, run.stderr
    assert "Traceback" not in run.stderr + run.stdout
    lines = run.stderr.splitlines()
    assert len(lines) == 3, run.stderr
    assert all(line.startswith(f"{path}:") for line in lines), run.stderr
    assert [line.split(":")[1:3] for line in lines] == [["3", "15"], ["3", "32"], ["5", "45"]]
