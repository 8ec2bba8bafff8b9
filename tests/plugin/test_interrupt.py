"""A real Ctrl-C: pytest runs as its own process, gets SIGINT while a fault is active (in a
fixture's block, or in an experiment item's run), reverts it, and stops the session."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import pytest

from .test_fault_block import wait_for


class Marks:
    """What the fault's inject and revert leave behind in the test directory."""

    def __init__(self, root: Path) -> None:
        self.state, self.log, self.inside = root / "state", root / "log", root / "inside"

    @property
    def inject(self) -> str:
        return f"touch {self.state}; echo inject >> {self.log}"

    @property
    def inject_then_inside(self) -> str:
        """The inject, then the mark that it ran to its end (for runs, which have no block
        body to make it)."""
        return f"{self.inject}; touch {self.inside}"

    @property
    def revert(self) -> str:
        return f"rm -f {self.state}; echo revert >> {self.log}"

    def ran(self) -> list[str]:
        return self.log.read_text().split() if self.log.exists() else []


def interrupt_pytest(project: pytest.Pytester, marks: Marks) -> tuple[int, str]:
    """Run pytest in a process of its own, send it SIGINT once ``marks.inside`` exists (the
    fault is in), and return its exit status and output."""
    proc = project.popen([sys.executable, "-m", "pytest", "-p", "no:cacheprovider"],
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    assert proc.stdout is not None
    try:
        wait_for(marks.inside.exists, "the fault to be injected")
        proc.send_signal(signal.SIGINT)
        out = proc.stdout.read()
        code = proc.wait(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        proc.stdout.close()
    return code, out.decode(errors="replace")


def test_ctrl_c_inside_a_fault_block_reverts_and_stops_the_session(
        project: pytest.Pytester) -> None:
    marks = Marks(project.path)
    project.makepyfile(test_hold=f"""
        import threading

        def test_hold(faultlab_fault):
            with faultlab_fault("command", inject=["sh", "-c", {marks.inject!r}],
                                revert=["sh", "-c", {marks.revert!r}]):
                open({str(marks.inside)!r}, "w").close()
                threading.Event().wait()

        def test_never_reached():
            pass
    """)

    code, out = interrupt_pytest(project, marks)

    assert code == pytest.ExitCode.INTERRUPTED, out
    assert "KeyboardInterrupt" in out and "passed" not in out
    assert marks.ran() == ["inject", "revert"] and not marks.state.exists()


def test_ctrl_c_inside_an_async_fault_block_reverts_and_stops_the_session(
        project: pytest.Pytester) -> None:
    marks = Marks(project.path)
    project.makepyfile(test_hold=f"""
        import asyncio

        async def test_hold(faultlab_fault):
            async with faultlab_fault("command", inject=["sh", "-c", {marks.inject!r}],
                                      revert=["sh", "-c", {marks.revert!r}]):
                open({str(marks.inside)!r}, "w").close()
                await asyncio.Event().wait()
    """)

    code, out = interrupt_pytest(project, marks)

    assert code == pytest.ExitCode.INTERRUPTED, out
    assert "still active" not in out, "the block reverted, not the fixture's teardown"
    assert marks.ran() == ["inject", "revert"] and not marks.state.exists()


def test_ctrl_c_during_an_experiment_item_reverts_and_stops_the_session(
        project: pytest.Pytester) -> None:
    marks = Marks(project.path)
    project.makefile(".faultlab.yaml", hold=f"""
name: hold
faults:
  - {{kind: command, inject: ["sh", "-c", "{marks.inject_then_inside}"],
     revert: ["sh", "-c", "{marks.revert}"], duration: 10m}}
""")

    code, out = interrupt_pytest(project, marks)

    assert code == pytest.ExitCode.INTERRUPTED, out
    assert "experiment 'hold': interrupted" in out and "every fault was reverted" in out, out
    assert marks.ran() == ["inject", "revert"] and not marks.state.exists()
