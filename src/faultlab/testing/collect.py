"""Experiment files as pytest tests: one file, one item, one run.

A file whose name matches an ini ``faultlab_files`` pattern (default ``*.faultlab.yaml``)
is loaded at collection; an invalid file is a collection error made of the loader's
one-line located messages, with no traceback. Running the item runs the experiment (the
runner's own SIGINT/SIGTERM handling included) into a new run directory; the item passes
when the hypothesis held, and otherwise fails with the violated clauses, the reasons and
the report's path. An interrupted run (every fault reverted) stops the session, as Ctrl-C
does.
"""

from __future__ import annotations

import asyncio
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import msgspec
import pytest

if TYPE_CHECKING:
    from _pytest._code.code import TerminalRepr, TracebackStyle

    from faultlab.api import RunResult
    from faultlab.experiment.loader import LoadedExperiment

__all__ = ["ExperimentFailed", "ExperimentFile", "ExperimentItem", "failure_text"]

#: set by the plug-in at configure: the --faultlab-var values, the runs directory if any
VARIABLES = pytest.StashKey[dict[str, str]]()
RUNS_DIR = pytest.StashKey[Path | None]()


class ExperimentFailed(Exception):
    """An experiment item's run did not hold; ``result`` is the run's :class:`RunResult`."""

    def __init__(self, name: str, result: RunResult) -> None:
        super().__init__(failure_text(name, result))
        self.result = result


def failure_text(name: str, result: RunResult) -> str:
    """What a run that did not hold says, for people: verdict, clauses, reasons, files."""
    verdict = result.verdict
    lines = [f"experiment '{name}': {result.status.value} (exit code {result.exit_code})"]
    if result.violated:
        lines.append("violated clauses:")
        lines += [f"  {c.name}: {c.detail or c.objective}" for c in result.violated]
    unreverted = [f for f in verdict.faults if f.revert_ok is False]
    if unreverted:
        lines.append("faults NOT reverted:")
        lines += [f"  {f.name}: {f.error}" for f in unreverted]
    if result.reasons:
        lines.append("reasons:")
        lines += [f"  {r}" for r in result.reasons]
    if result.report_html is not None:
        lines.append(f"report: {result.report_html}")
    lines.append(f"run directory: {result.run_dir}")
    return "\n".join(lines)


def _loop_factory() -> Callable[[], asyncio.AbstractEventLoop] | None:
    # The runner's loop, as `faultlab run` has it (uvloop where installed), without
    # setting the process-wide policy, which would change the loops of later tests.
    try:
        import uvloop
    except ImportError:
        return None
    factory: Callable[[], asyncio.AbstractEventLoop] = uvloop.new_event_loop
    return factory


class ExperimentFile(pytest.File):
    def collect(self) -> Iterator[ExperimentItem]:
        from faultlab.experiment.errors import ExperimentError
        from faultlab.experiment.loader import load_experiment

        source = self._source()
        try:
            loaded = load_experiment(self.path, self.config.stash.get(VARIABLES, {}))
        except ExperimentError as e:
            lines = [str(msgspec.structs.replace(p, file=source)) for p in e.problems]
            raise self.CollectError("\n".join(lines)) from None
        loaded = msgspec.structs.replace(loaded, source=source)
        yield ExperimentItem.from_parent(self, name=loaded.experiment.name, loaded=loaded)

    def _source(self) -> str:
        """The file as people name it here: from the rootdir (as in node ids)."""
        try:
            return str(self.path.relative_to(self.config.rootpath))
        except ValueError:
            return str(self.path)


class ExperimentItem(pytest.Item):
    def __init__(self, *, loaded: LoadedExperiment, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.loaded = loaded
        self.add_marker("faultlab")

    def _run_place(self) -> tuple[Path | None, Path]:
        """(run_dir, runs_dir): a new directory under pytest's temporary directory, or a
        fresh one under the configured runs directory."""
        runs_dir = self.config.stash.get(RUNS_DIR, None)
        if runs_dir is not None:
            return None, runs_dir
        factory = getattr(self.config, "_tmp_path_factory", None)
        if isinstance(factory, pytest.TempPathFactory):
            return factory.mktemp(f"faultlab-{self.name}", numbered=True), Path("runs")
        return Path(tempfile.mkdtemp(prefix=f"faultlab-{self.name}-")), Path("runs")

    def runtest(self) -> None:
        from faultlab.api import arun_experiment
        from faultlab.run.verdict import Status

        run_dir, runs_dir = self._run_place()
        with asyncio.Runner(loop_factory=_loop_factory()) as runner:
            result = runner.run(arun_experiment(self.loaded, run_dir=run_dir,
                                                runs_dir=runs_dir, handle_signals=True))
        self.user_properties.append(("faultlab_run_dir", str(result.run_dir)))
        if result.report_html is not None:
            self.user_properties.append(("faultlab_report", str(result.report_html)))
        if result.status is Status.INTERRUPTED:
            raise KeyboardInterrupt(failure_text(self.name, result))
        if not result.held:
            raise ExperimentFailed(self.name, result)

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException],
                     style: TracebackStyle | None = None) -> str | TerminalRepr:
        from faultlab.errors import FaultlabError

        if isinstance(excinfo.value, ExperimentFailed | FaultlabError):
            return str(excinfo.value)
        return super().repr_failure(excinfo, style)

    def reportinfo(self) -> tuple[Path, int | None, str]:
        return self.path, None, f"faultlab experiment {self.name}"
