"""The Python API: load an experiment, run it, get a typed result.

The ``faultlab`` CLI, ``faultlab demo`` and the pytest plugin are thin users of this module;
the whole post-run sequence (result.json, junit.xml, the report) lives here once.

Exceptions (all are :class:`FaultlabError`)::

    FaultlabError
     ├── ExperimentError   the experiment file is invalid (``problems``: one line each)
     └── RunDirError       the run directory cannot be used (e.g. it already holds a run)

An experiment that fails its hypothesis is not an exception: it is a :class:`RunResult`
whose ``status`` says so.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import msgspec

from faultlab.errors import FaultlabError, RunDirError
from faultlab.experiment.errors import ExperimentError
from faultlab.experiment.loader import LoadedExperiment, load_experiment

if TYPE_CHECKING:
    from faultlab.clock import Clock
    from faultlab.run.runner import Progress, Runner
    from faultlab.run.verdict import ClauseResult, FaultRecord, Status, Verdict

__all__ = ["ExperimentError", "FaultlabError", "RunDirError", "RunResult", "arun_experiment",
           "load_experiment", "prepare_run", "run_experiment"]


class RunResult(msgspec.Struct, frozen=True):
    """What a run concluded, and where its files are."""

    verdict: Verdict
    run_dir: Path
    seed: int
    result_json: Path
    junit_xml: Path
    report_html: Path | None

    @property
    def status(self) -> Status:
        return self.verdict.status

    @property
    def exit_code(self) -> int:
        return int(self.verdict.exit_code)

    @property
    def held(self) -> bool:
        return self.verdict.status.value == "held"

    @property
    def reasons(self) -> list[str]:
        return list(self.verdict.reasons)

    @property
    def clauses(self) -> list[ClauseResult]:
        return list(self.verdict.clauses)

    @property
    def violated(self) -> list[ClauseResult]:
        return [c for c in self.verdict.clauses if not c.held]

    @property
    def faults(self) -> list[FaultRecord]:
        return list(self.verdict.faults)


def _loaded(experiment: str | Path | LoadedExperiment,
            variables: Mapping[str, str] | None) -> LoadedExperiment:
    if isinstance(experiment, LoadedExperiment):
        return experiment
    return load_experiment(experiment, variables)


def prepare_run(experiment: str | Path | LoadedExperiment, *,
                variables: Mapping[str, str] | None = None, run_dir: Path | None = None,
                runs_dir: Path = Path("runs"), seed: int | None = None,
                progress: Progress | None = None, clock: Clock | None = None,
                argv: Sequence[str] | None = None) -> Runner:
    """A runner for one experiment, with its run directory (created, and new)."""
    from faultlab.clock import MonotonicClock
    from faultlab.run.execute import new_run_dir
    from faultlab.run.runner import Runner

    loaded = _loaded(experiment, variables)
    if run_dir is not None and (run_dir / "journal.jsonl").exists():
        raise RunDirError(f"{run_dir}: already holds a run (hint: give a new run directory, "
                          "or a runs directory to get a fresh one)")
    run_dir = run_dir or new_run_dir(runs_dir, loaded.experiment.name)
    if argv is None:
        argv = ["faultlab", "run", loaded.source]
    return Runner(loaded, run_dir, clock or MonotonicClock(), seed=seed, progress=progress,
                  argv=list(argv))


def finish(runner: Runner, verdict: Verdict, *, report: bool = True) -> RunResult:
    """Write the run's files (result.json, junit.xml, report.html/.md)."""
    from faultlab.run.outputs import result_document, write_junit, write_result

    doc = result_document(verdict, runner.loaded, runner.run_dir, runner.seed, runner.argv)
    result = write_result(doc, runner.run_dir, runner.redactor)
    junit = write_junit(verdict, runner.loaded.experiment.name, runner.run_dir,
                        runner.redactor)
    html = None
    if report:
        from faultlab.report import write_report

        try:
            html, _ = write_report([runner.run_dir], None)
        except Exception:  # a report problem never changes a run's outcome
            html = None
    return RunResult(verdict, runner.run_dir, runner.seed, result, junit, html)


class Running(list["Runner"]):
    """The runs going on now, for one signal handler over several; once a signal has come
    (``interrupted``), a caller starts no new run."""

    interrupted = False


async def run_among(path: Path, run_dir: Path, running: list[Runner]
                    ) -> tuple[Runner, Verdict]:
    """Run one experiment file to its end and write its files; listed in ``running`` while
    it goes, so that one signal handler over several runs reaches it."""
    from faultlab.experiment import load_experiment

    runner = prepare_run(load_experiment(path), run_dir=run_dir,
                         argv=["faultlab", "run", str(path)])
    running.append(runner)
    try:
        verdict = await runner.run()
    finally:
        running.remove(runner)
    finish(runner, verdict)
    return runner, verdict


@contextlib.contextmanager
def interrupt_on_signals(runners: Sequence[Runner],
                         announce: object = None) -> Iterator[None]:
    """SIGINT/SIGTERM interrupt every runner (each then reverts and stops what it started);
    a later signal makes their tear-down hurry, never skip a step. Only in the main thread."""
    loop = asyncio.get_running_loop()

    def on_signal(sig: signal.Signals) -> None:
        if callable(announce):
            announce(sig, max((r.signals for r in runners), default=0))
        for r in runners:
            r.interrupt()

    installed = []
    for sig in (signal.SIGINT, signal.SIGTERM):
        try:
            loop.add_signal_handler(sig, on_signal, sig)
            installed.append(sig)
        except (RuntimeError, ValueError):  # not the main thread: the caller handles signals
            pass
    try:
        yield
    finally:
        for sig in installed:
            loop.remove_signal_handler(sig)


async def arun_experiment(experiment: str | Path | LoadedExperiment, *,
                          variables: Mapping[str, str] | None = None,
                          run_dir: Path | None = None, runs_dir: Path = Path("runs"),
                          seed: int | None = None, report: bool = True,
                          progress: Progress | None = None, clock: Clock | None = None,
                          handle_signals: bool = False) -> RunResult:
    """Run one experiment in the running event loop. Cancelling the awaiting task
    interrupts the run: it still reverts everything, then raises CancelledError."""
    runner = prepare_run(experiment, variables=variables, run_dir=run_dir, runs_dir=runs_dir,
                         seed=seed, progress=progress, clock=clock)
    if handle_signals:
        with interrupt_on_signals([runner]):
            verdict = await runner.run()
    else:
        verdict = await runner.run()
    return finish(runner, verdict, report=report)


def run_experiment(experiment: str | Path | LoadedExperiment, *,
                   variables: Mapping[str, str] | None = None, run_dir: Path | None = None,
                   runs_dir: Path = Path("runs"), seed: int | None = None, report: bool = True,
                   progress: Progress | None = None) -> RunResult:
    """Run one experiment to its end (its own event loop); SIGINT/SIGTERM revert everything
    before it returns. Raises ExperimentError or RunDirError for bad input."""
    from faultlab.run.execute import loop_factory

    # A loop of our own (uvloop where installed) without changing the process's policy, so
    # a caller's own asyncio code (a pytest session, say) keeps its loops.
    with asyncio.Runner(loop_factory=loop_factory()) as loop:
        return loop.run(arun_experiment(experiment, variables=variables, run_dir=run_dir,
                                        runs_dir=runs_dir, seed=seed, report=report,
                                        progress=progress, handle_signals=True))
