"""What every workload is to the runner: the :class:`Workload` protocol and its context.

A workload kind's factory (``WorkloadKind.build(name, spec, ctx)``, see
:mod:`faultlab.workload.spec`) returns a :class:`Workload`. The runner drives every workload
of an experiment the same way, all of them in one task group::

    build      (name, spec, ctx) -> workload      imports done here, before any clock reading
    prepare()  connections checked, tables made    before the warm-up starts
    run(start, origin, recorder)                   plans from ``start``; second 0 is ``origin``
    stop_at(t)                                     the runner's end of the plan
    summary()                                      after run: what the generator did

Time between ``start`` and ``origin`` is the *warm-up* (``warmup:`` in the experiment): the
workload already drives load, so connections are open and code paths warm at second 0, but
nothing intended before ``origin`` is measured. A *measured* workload (``spec.measured``) is
given a :class:`~faultlab.workload.stats.StatsRecorder` and must report every arrival to it
(``on_sent``/``on_dropped`` from :class:`~faultlab.workload.openloop.OpenLoop`, then one
``on_done`` per sent one): SLOs and abort conditions are evaluated on those statistics. A
workload that records a history for the checkers also satisfies :class:`HistoryRecording`.

Invariants a workload keeps: every task it starts ends before ``run`` returns (or is
cancelled with it); ``stop_at`` only ever moves the end earlier and may be called before or
during ``run``; arrivals are planned from ``ctx.clock``, never from ``time``.
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import TYPE_CHECKING, Protocol, runtime_checkable

import msgspec

from faultlab.clock import Clock
from faultlab.journal import Redactor
from faultlab.system import ServiceError
from faultlab.workload.openloop import LoadSummary
from faultlab.workload.stats import StatsRecorder

if TYPE_CHECKING:
    from faultlab.history import History
    from faultlab.workload.spec import HistoryWorkload

__all__ = ["HistoryCounts", "HistoryRecording", "Workload", "WorkloadContext", "WorkloadError",
           "WorkloadSummary"]


class WorkloadContext(msgspec.Struct, frozen=True):
    """What a workload may use: the run's clock and directory, its seed (journaled) and a
    generator derived from it for this workload alone, and the redactor for anything it
    writes itself."""

    clock: Clock
    run_dir: Path
    seed: int
    rng: random.Random
    redactor: Redactor


class HistoryCounts(msgspec.Struct, frozen=True):
    """A history workload's operations: ``planned = invoked + dropped`` (warm-up included,
    since the history holds those operations too), and outcomes as recorded."""

    file: str  # the history's file name in the run directory
    planned: int
    invoked: int
    dropped: int
    retired_processes: int
    final_reads: int
    ok: int
    fail: int
    info: int


class WorkloadSummary(msgspec.Struct, frozen=True):
    """What one workload did in a run: its kind, the scheduler's figures from second 0 on
    (``load``, with the warm-up apart) and, for a history workload, its operation counts."""

    kind: str
    load: LoadSummary
    history: HistoryCounts | None = None


class Workload(Protocol):
    """A running workload; see the module docstring for the life cycle."""

    @property
    def name(self) -> str: ...

    @property
    def measured(self) -> bool:
        """Whether it records per-second statistics (``run`` then gets a recorder)."""

    async def prepare(self) -> None:
        """Set up before the warm-up (check the system is there, create tables).

        Raises for bad input (an unreachable store, a model the client cannot run), with a
        message for people; an HTTP load has nothing to prepare."""

    async def run(self, start: float, origin: float, recorder: StatsRecorder | None) -> None:
        """Plan arrivals from clock time ``start`` until :meth:`stop_at`; measure from
        ``origin``. Returns when every arrival has finished."""

    def stop_at(self, t: float) -> None:
        """End the plan at clock time ``t`` (only ever earlier)."""

    def summary(self) -> WorkloadSummary:
        """What the generator did (after ``run``; the figures so far before that)."""


@runtime_checkable
class HistoryRecording(Protocol):
    """A workload whose run records a history for the checkers (``checks:``)."""

    @property
    def history(self) -> History | None:
        """The recorded history, once ``run`` returned."""

    @property
    def history_spec(self) -> HistoryWorkload:
        """The spec the checks read the model (and the bank's accounts) from."""


class WorkloadError(ServiceError):
    """A workload could not be built or prepared (an unreachable store, a refused set-up):
    the system under test is not there to test, so the run ends in error before second 0,
    reported like a service that did not start."""
