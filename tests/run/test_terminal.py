"""A run's output: rich on a terminal, plain text in a log (faultlab.run.terminal)."""

from __future__ import annotations

import io
import os
import pty
import re
import subprocess
import sys
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st
from rich.errors import MarkupError
from rich.text import Text

from faultlab.run.terminal import PlainOut, strip_markup

# text made of the pieces rich's markup is made of: tags, escapes, brackets, words
_PIECES = st.sampled_from(["[bold]", "[/]", "[/bold]", "[red]", "[dim]", "[#ff0000]",
                           "[@click]", "[link=x]", "[a b]", "\\", "\\\\", "[", "]", "[]",
                           "[1]", "[X]", "[[", "]]", "[/red", ":smile:", " ", "ok", "p99"])


@settings(max_examples=400, deadline=None)
@given(st.lists(_PIECES, max_size=12).map("".join))
def test_markup_is_dropped_as_rich_drops_it(text: str) -> None:
    try:
        expected = Text.from_markup(text, emoji=False).plain
    except MarkupError:  # a closing tag with nothing open: rich refuses, faultlab prints it
        return
    assert strip_markup(text) == expected


def test_plain_tables_are_aligned_columns_without_markup() -> None:
    out = io.StringIO()
    PlainOut(out).table("faults", ("fault", "result"),
                        [("kill a-long-name", "[green]held[/]"), ("x", "[red]FAILED[/]")])
    assert out.getvalue().splitlines() == [
        "faults",
        "fault             result",
        "kill a-long-name  held",
        "x                 FAILED",
    ]


def test_a_run_prints_plain_text_into_a_pipe_and_boxes_on_a_terminal(tmp_path: Path) -> None:
    victim = subprocess.Popen(["sleep", "60"])
    try:
        pidfile = tmp_path / "victim.pid"
        experiment = tmp_path / "e.yaml"
        experiment.write_text(f"name: e\ntargets:\n  victim: {{process: {{pidfile: {pidfile}}}}}"
                              "\nfaults:\n  - {target: victim, kind: kill, signal: SIGCONT}\n")
        pidfile.write_text(f"{victim.pid}\n")
        command = [sys.executable, "-m", "faultlab", "run", str(experiment), "--runs-dir",
                   str(tmp_path / "runs")]
        piped = subprocess.run(command, capture_output=True, text=True, timeout=120,
                               check=False)
        assert piped.returncode == 0, piped.stderr
        assert "\x1b[" not in piped.stdout and "┃" not in piped.stdout
        assert "HELD (exit 0)" in piped.stdout
        # the fault's row: its cells in their columns (injected/reverted: whatever times)
        assert any(re.fullmatch(r"kill kill-victim  victim  \d+\.\d\ds +\d+\.\d\ds +10s +-",
                                line) for line in piped.stdout.splitlines()), piped.stdout
        # the same run on a pseudo-terminal: rich's colours and boxes
        leader, follower = pty.openpty()
        try:
            done = subprocess.run(command, stdin=follower, stdout=follower, stderr=follower,
                                  timeout=120, check=False)
            os.close(follower)
            follower = -1
            seen = b""
            while True:
                try:
                    chunk = os.read(leader, 65536)
                except OSError:  # the other side is closed and drained
                    break
                if not chunk:
                    break
                seen += chunk
        finally:
            os.close(leader)
            if follower >= 0:
                os.close(follower)
        assert done.returncode == 0, seen
        shown = seen.decode()
        assert "┃" in shown and "\x1b[" in shown and "HELD" in shown
    finally:
        victim.kill()
        victim.wait()
