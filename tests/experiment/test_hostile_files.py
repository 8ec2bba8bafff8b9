"""Hostile files: each is refused with one located line, quickly, never with a traceback, a
hang or all of the memory (trust issue, item 10)."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from faultlab.experiment import ExperimentError, load_experiment, load_experiment_text, yamlpos
from faultlab.experiment.loader import MAX_FILE_BYTES


def first(text: str) -> str:
    with pytest.raises(ExperimentError) as info:
        load_experiment_text(text, "h.yaml")
    problem = str(info.value.problems[0])
    assert len(problem.splitlines()) == 1 and problem.startswith("h.yaml:"), problem
    return problem


def file_problem(path: str | Path) -> str:
    with pytest.raises(ExperimentError) as info:
        load_experiment(path)
    return str(info.value.problems[0])


# --- nesting ----------------------------------------------------------------------------------

@pytest.mark.parametrize("text", [
    "name: t\nx: " + "[" * 400 + "]" * 400 + "\n",  # 800 bytes: once a RecursionError
    "name: t\nx: " + "{a: " * 400 + "1" + "}" * 400 + "\n",
    "name: t\n" + "".join(" " * i + "k:\n" for i in range(400)),
    "name: t\nx: " + "[" * 100_000,  # unclosed: refused at level 65, not after reading on
])
def test_deep_nesting_is_refused(text: str) -> None:
    assert "nest more than 64 levels deep" in first(text)


def test_nesting_of_64_levels_is_read() -> None:
    text = "name: t\nx: " + "[" * 63 + "]" * 63 + "\n"
    assert "unknown key 'x'" in first(text)  # read, then refused as an unknown key


def test_aliases_cannot_nest_deeper_than_the_text() -> None:
    inner = "[" * 40 + "1" + "]" * 40
    outer = "[" * 40 + "*a" + "]" * 40
    assert "nest more than 64 levels deep" in first(f"name: t\na: &a {inner}\nb: {outer}\n")


# --- files that are no files, or too large ----------------------------------------------------

READ_IN_A_CHILD = """
import sys
from faultlab.experiment import ExperimentError, load_experiment
try:
    load_experiment(sys.argv[1])
except ExperimentError as e:
    print(e.problems[0])
"""


def refused_in_a_child(path: str) -> str:
    """In a child with a timeout: a regression would hang (a FIFO) or fill the memory."""
    run = subprocess.run([sys.executable, "-c", READ_IN_A_CHILD, path], capture_output=True,
                         text=True, timeout=60, check=False)
    assert run.returncode == 0 and "Traceback" not in run.stderr, run.stderr[-2000:]
    return run.stdout.strip()


def test_a_fifo_is_refused_without_reading(tmp_path: Path) -> None:
    fifo = tmp_path / "exp.yaml"
    os.mkfifo(fifo)
    assert refused_in_a_child(str(fifo)) == (
        f"{fifo}:1:1: cannot read file: it is a FIFO (named pipe), not a regular file "
        "(hint: give the path of an experiment file, e.g. experiment.yaml)")


@pytest.mark.skipif(not os.path.exists("/dev/zero"), reason="no /dev/zero")
def test_dev_zero_is_refused_without_reading() -> None:
    assert "it is a device, not a regular file" in refused_in_a_child("/dev/zero")


def test_a_directory_is_refused(tmp_path: Path) -> None:
    assert "it is a directory, not a regular file" in file_problem(tmp_path)


def test_a_path_with_nul_is_refused() -> None:
    assert "cannot read file" in file_problem("exp\x00.yaml")


def test_a_file_larger_than_the_limit_is_refused(tmp_path: Path) -> None:
    big = tmp_path / "big.yaml"
    big.write_bytes(b"name: t\n" + b"#" * MAX_FILE_BYTES)
    assert "larger than 1 MiB" in file_problem(big)
    with pytest.raises(ExperimentError, match="larger than 1 MiB"):
        load_experiment_text("#" * (MAX_FILE_BYTES + 1))


def test_a_file_at_the_limit_is_read(tmp_path: Path) -> None:
    path = tmp_path / "full.yaml"
    head = b"name: t\n"
    path.write_bytes(head + b"#" * (MAX_FILE_BYTES - len(head) - 1) + b"\n")
    assert load_experiment(path).experiment.name == "t"


# --- counts and expansions --------------------------------------------------------------------

@pytest.mark.parametrize(("section", "what", "item"), [
    ("vars", "vars", "  v{i}: {i}\n"),
    ("targets", "targets", "  t{i}: {{host: local}}\n"),
    ("faults", "faults", "  - {{kind: down, target: a, start: {i}s, duration: 1s}}\n"),
])
def test_collections_the_checks_compare_are_bounded(section: str, what: str, item: str) -> None:
    text = f"name: t\n{section}:\n" + "".join(item.format(i=i) for i in range(1001))
    problem = first(text)
    assert f"more than 1000 {what}" in problem
    assert problem.startswith("h.yaml:1003:")  # at the first entry past the limit


def test_values_are_bounded_while_composing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(yamlpos, "MAX_VALUES", 1000)
    problem = first("name: t\nx: [" + "1, " * 2000 + "]\n")
    assert "more than 1000 values" in problem


def test_a_chain_of_vars_doubling_itself_is_refused() -> None:
    """30 lines that would expand to 10 GB."""
    lines = ["name: t", "vars:", "  a0: xxxxxxxxxx"]
    lines += [f'  a{i}: "${{a{i - 1}}}${{a{i - 1}}}"' for i in range(1, 31)]
    assert "substitutions produce more than" in first("\n".join(lines) + "\n")


def test_many_uses_of_a_large_var_are_refused() -> None:
    text = textwrap.dedent(f"""\
        name: t
        vars: {{big: {"x" * 200_000}}}
        x: [{", ".join(['"${big}"'] * 100)}]
        """)
    assert "substitutions produce more than" in first(text)
