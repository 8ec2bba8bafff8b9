"""The rules every history format shares: the same mistake, the same verdict and words, located.

Each case writes one mistake in every format that can express it (JSON Lines is paired, so it
cannot have a completion without an invocation; Jepsen text carries no times, so no completion
can precede its invocation in time) and expects a HistoryError naming the same line in each.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from faultlab.check import read_history
from faultlab.history import History, HistoryError, parse_edn_history, parse_jsonl
from faultlab.history.jepsen_text import parse_text_history
from faultlab.history.lines import file_lines, text_lines
from faultlab.history.rules import LOOKAHEAD

Parse = Callable[[str, str], History]
JSONL: Parse = parse_jsonl
EDN: Parse = parse_edn_history
TEXT: Parse = parse_text_history


def op(process: object, invoke: int, complete: int | None, outcome: str = "ok", f: str = "read"
       ) -> str:
    done = "null" if complete is None else str(complete)
    name = f'"{process}"' if isinstance(process, str) else str(process)
    return (f'{{"process": {name}, "f": "{f}", "invoke_ns": {invoke}, "complete_ns": {done}, '
            f'"outcome": "{outcome}"}}')


def problem(parse: Parse, text: str, file: str) -> str:
    with pytest.raises(HistoryError) as caught:
        parse(text, file)
    message = str(caught.value)
    assert "\n" not in message.strip() or all(
        line.startswith(f"{file}:") for line in message.splitlines()), message
    return message


TWO_OPEN = "process 0 has two operations open at once"


@pytest.mark.parametrize(("parse", "text", "where"), [
    # JSON Lines: overlapping intervals, in line order and out of it, and an operation after
    # one that never completed (open for ever).
    (JSONL, op(0, 0, 10) + "\n" + op(0, 5, 20), "h:2:1"),
    (JSONL, op(0, 5, 20) + "\n" + op(1, 0, 1) + "\n" + op(0, 0, 10), "h:3:1"),
    (JSONL, op(0, 0, None, "info") + "\n" + op(0, 50, 60), "h:2:1"),
    # Jepsen EDN and text: a second invocation before the first completed.
    (EDN, "{:type :invoke, :f :read, :process 0, :time 1}\n"
          "{:type :invoke, :f :read, :process 0, :time 2}", "h:2:1"),
    (EDN, "{:type :invoke, :f :read, :process 0}\n{:type :invoke, :f :read, :process 0}",
     "h:2:1"),
    (TEXT, "0 :invoke :read nil\n0 :invoke :read nil", "h:2:1"),
    (TEXT, "INFO  jepsen.util - 0\t:invoke\t:read\tnil\nINFO jepsen.util - 0 :invoke :read nil",
     "h:2:"),
])
def test_two_open_operations_of_one_process(parse: Parse, text: str, where: str) -> None:
    message = problem(parse, text, "h")
    assert message.startswith(where) and TWO_OPEN in message, message
    assert "single-threaded" in message  # the hint


@pytest.mark.parametrize(("parse", "text", "where"), [
    (JSONL, op(0, 50, 40), "h:1:"),
    (EDN, "{:type :invoke, :f :read, :process 0, :time 50}\n"
          "{:type :ok, :f :read, :value 1, :process 0, :time 40}", "h:2:1"),
])
def test_completion_before_its_invocation(parse: Parse, text: str, where: str) -> None:
    message = problem(parse, text, "h")
    assert message.startswith(where) and "completed at 40, before its invocation" in message


@pytest.mark.parametrize(("parse", "text"), [
    (EDN, "{:type :ok, :f :read, :value 1, :process 0, :time 1}"),
    (EDN, "{:type :invoke, :f :read, :process 1}\n{:type :fail, :f :read, :process 0}"),
    (TEXT, "1 :invoke :read nil\n0 :ok :read 1"),
])
def test_completion_without_invocation(parse: Parse, text: str) -> None:
    message = problem(parse, text, "h")
    assert "a completion of process 0 with no invocation before it" in message
    assert message.startswith(f"h:{text.count(chr(10)) + 1}:")


@pytest.mark.parametrize(("parse", "text"), [
    (JSONL, ""), (JSONL, "\n  \n\t\n"), (EDN, ""), (EDN, "[]"), (EDN, "; only a comment\n"),
    (EDN, "[\n]\n"), (TEXT, ""), (TEXT, "INFO jepsen.core - Run complete\n"),
])
def test_an_empty_history_is_an_error_not_valid(parse: Parse, text: str) -> None:
    message = problem(parse, text, "h")
    assert message.startswith("h:1:1: no operations (was the recording lost?)")


@pytest.mark.parametrize("name", ["h.jsonl", "h.edn", "h.txt", "jepsen.log"])
def test_an_empty_file_is_an_error_in_every_format(tmp_path: Path, name: str) -> None:
    (tmp_path / name).write_bytes(b"")
    with pytest.raises(HistoryError, match=r"no operations \(was the recording lost\?\)"):
        read_history(tmp_path / name)


def test_operations_that_only_touch_are_not_open_at_once() -> None:
    touching = "\n".join([op(0, 0, 10), op(0, 10, 20), op(0, 20, 20), op(0, 20, 30)])
    assert len(parse_jsonl(touching)) == 4
    shuffled = "\n".join([op(0, 20, 30), op(0, 0, 10), op(0, 10, 20)])
    assert [o.invoke_ns for o in parse_jsonl(shuffled)] == [20, 0, 10]


# --- fail fast ------------------------------------------------------------------------------

MILLION = 1_000_000
GOOD = {
    "h.jsonl": b'{"process": 0, "f": "read", "invoke_ns": 1, "complete_ns": 1, "outcome": "ok"}\n',
    "h.edn": b"{:type :invoke, :f :read, :process 0}\n{:type :ok, :f :read, :process 0}\n",
    "h.txt": b"0 :invoke :read nil\n0 :ok :read nil\n",
}
BAD = {"h.jsonl": b'{"process": 0, "f": "read", "invoke_ns": -1}\n',
       "h.edn": b"{:type :ok, :f :read, :process 7}\n",
       "h.txt": b"7 :ok :read nil\n"}


@pytest.mark.parametrize("name", sorted(GOOD))
def test_an_early_mistake_in_a_huge_file_is_reported_without_reading_on(
        tmp_path: Path, name: str) -> None:
    """Line 5 is wrong; a million lines follow, and the very last one is not even UTF-8. A
    reader that read on would report that too (or take minutes); this one stops."""
    good = GOOD[name]
    per = good.count(b"\n")
    path = tmp_path / name
    try:
        with path.open("wb") as out:
            out.write(good * (4 // per) + BAD[name] + good * (MILLION // per) + b"\xff\n")
        with pytest.raises(HistoryError) as caught:
            read_history(path)
        assert [(p.line, p.column > 0) for p in caught.value.problems] == [(5, True)]
    finally:
        path.unlink()


def test_the_reader_consumes_at_most_lookahead_lines_past_the_first_mistake() -> None:
    from faultlab.history import jsonl

    consumed = 0

    def lines() -> Iterator[tuple[int, str]]:
        nonlocal consumed
        for number, line in text_lines(op(0, 1, 1) + "\noops\n" + (op(1, 1, 1) + "\n") * 10_000):
            consumed = number
            yield number, line

    with pytest.raises(HistoryError) as caught:
        jsonl._parse(lines(), "h")
    assert [p.line for p in caught.value.problems] == [2]
    assert consumed == 2 + LOOKAHEAD  # the line that said "enough", not one more


# --- lines ------------------------------------------------------------------------------------

def test_lines_end_at_any_break_and_files_and_text_agree(tmp_path: Path) -> None:
    raw = "\ufeffa\r\nb\rc\n\nd"
    (tmp_path / "f").write_bytes(raw.encode())
    expected = [(1, "a"), (2, "b"), (3, "c"), (4, ""), (5, "d")]
    assert list(text_lines(raw)) == expected
    assert list(file_lines(tmp_path / "f")) == expected


def test_bad_utf8_is_located_at_its_line_and_column(tmp_path: Path) -> None:
    (tmp_path / "h.jsonl").write_bytes(op(0, 1, 2).encode() + b"\n{\"f\": \"\xc3\xa9\xff\"}\n")
    with pytest.raises(HistoryError) as caught:
        read_history(tmp_path / "h.jsonl")
    assert str(caught.value).startswith(f"{tmp_path / 'h.jsonl'}:2:9: not UTF-8 text: byte 0xff")


@pytest.mark.parametrize("make", ["missing", "directory"])
def test_unreadable_paths_are_problems(tmp_path: Path, make: str) -> None:
    path = tmp_path / "h.jsonl"
    if make == "directory":
        path.mkdir()
    with pytest.raises(HistoryError, match="cannot read the history"):
        read_history(path)


def test_a_named_pipe_nobody_writes_to_is_empty_not_a_hang(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "h.jsonl")
    with pytest.raises(HistoryError, match="no operations"):
        read_history(tmp_path / "h.jsonl")


def test_a_pipe_with_a_writer_streams() -> None:
    """As with ``faultlab check <(zcat history.jsonl.gz)``: the writer holds the pipe open and
    writes after a while; the reader waits for it (blocking reads), then for the end."""
    read_end, write_end = os.pipe()
    writer = subprocess.Popen([sys.executable, "-c", "import os, sys, time; time.sleep(0.3); "
                               f"os.write(int(sys.argv[1]), {(op(0, 1, 2) + chr(10)).encode()!r})",
                               str(write_end)], pass_fds=(write_end,))
    os.close(write_end)
    try:
        history = read_history(f"/dev/fd/{read_end}")
        assert [(o.invoke_ns, o.complete_ns) for o in history] == [(1, 2)]
    finally:
        os.close(read_end)
        writer.wait()


def test_a_line_too_long_is_a_problem_not_a_memory_hog(tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    from faultlab.history import lines

    monkeypatch.setattr(lines, "MAX_LINE_BYTES", 1000)
    (tmp_path / "h.jsonl").write_bytes(b" " * 5000)
    with pytest.raises(HistoryError, match="longer than"):
        read_history(tmp_path / "h.jsonl")
