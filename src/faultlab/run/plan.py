"""The fault plan: which fault starts when, for how long, as one list the runner follows.

A fixed schedule is the faults' own ``start``/``duration``. A random schedule (Jepsen's
nemesis style) is drawn from the run's seeded generator: starts separated by random
intervals, each holding a fault chosen at random for a random time, with at most
``max_active`` active at once and never two on one target at once (a fault waits for a free
slot rather than being dropped). The plan is a pure function of the experiment and the
seed, journaled at the start of the fault phase, so the same seed gives the same plan.
"""

from __future__ import annotations

import random

import msgspec

from faultlab.experiment.model import Experiment
from faultlab.faults.spec import FaultSpec

__all__ = ["PlannedFault", "plan_faults"]


class PlannedFault(msgspec.Struct, frozen=True):
    label: str  # unique in the plan: the fault's name, with #n for a repeated random draw
    spec: FaultSpec
    start: float  # seconds since the fault phase began
    duration: float


def plan_faults(exp: Experiment, rng: random.Random) -> list[PlannedFault]:
    sched = exp.schedule.random
    if sched is None:
        return [PlannedFault(f.label, f, f.start, f.duration) for f in exp.faults]
    by_label = {f.label: f for f in exp.faults}
    pool = [by_label[name] for name in sched.faults]
    plan: list[PlannedFault] = []
    counts: dict[str, int] = {}
    t = rng.uniform(sched.interval.min, sched.interval.max)
    while t < sched.length:
        spec = rng.choice(pool)
        hold = 0.0 if spec.instantaneous else rng.uniform(sched.hold.min, sched.hold.max)
        start = _free_slot(plan, exp, spec, t, sched.max_active)
        if start >= sched.length:
            break
        hold = min(hold, sched.length - start)
        counts[spec.label] = counts.get(spec.label, 0) + 1
        # the fault is built from its planned spec: its lease (duration + lease_grace) must
        # cover the hold drawn here, not the duration written in faults: (often none)
        held = spec if spec.one_off else spec.model_copy(update={"duration": hold})
        plan.append(PlannedFault(f"{spec.label}#{counts[spec.label]}", held, start, hold))
        t = start + rng.uniform(sched.interval.min, sched.interval.max)
    return plan


def _targets(exp: Experiment, spec: FaultSpec) -> set[tuple[str, ...]]:
    return {t.identity() for n in spec.target_names if (t := exp.target(n)) is not None}


def _free_slot(plan: list[PlannedFault], exp: Experiment, spec: FaultSpec, t: float,
               max_active: int) -> float:
    """The first time >= t when fewer than max_active faults are active and none shares a
    target with ``spec``."""
    mine = _targets(exp, spec)
    while True:
        active = [p for p in plan if p.start <= t < p.start + max(p.duration, 1e-9)]
        blocking = [p for p in active if spec.exclusive and p.spec.exclusive
                    and _targets(exp, p.spec) & mine]
        if len(active) < max_active and not blocking:
            return t
        t = min(p.start + max(p.duration, 1e-9) for p in (blocking or active))
