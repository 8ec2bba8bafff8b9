"""The fault plan: a random schedule's faults carry their drawn hold, so their leases (and
so their keepers and watchdogs) cover it."""

from __future__ import annotations

import random

from faultlab.experiment.loader import load_experiment_text
from faultlab.faults.base import BoundTarget, FaultContext
from faultlab.faults.registry import FAULT_KINDS
from faultlab.hosts import local_host
from faultlab.run.plan import plan_faults

TEXT = """
name: plan
targets:
  app: {process: {name: definitely-not-running}}
faults:
  - {name: stop, kind: pause, target: app}
  - {name: shoot, kind: kill, target: app}
schedule:
  random: {faults: [stop, shoot], interval: 1s..2s, hold: 30s..40s, length: 60s}
revert: {lease_grace: 5s}
"""


def test_random_holds_become_the_faults_durations_and_leases() -> None:
    exp = load_experiment_text(TEXT).experiment
    plan = plan_faults(exp, random.Random(3))
    app = BoundTarget("app", exp.targets["app"], local_host())
    ctx = FaultContext({"app": app}, None, {}, 5.0, exp.revert.lease_grace, random.Random(0))
    held = [p for p in plan if p.spec.kind == "pause"]
    assert held and all(p.duration >= 30 or p.start + p.duration == 60 for p in held)
    for p in held:
        assert p.spec.duration == p.duration
        fault = FAULT_KINDS["pause"].fault(p.spec, ctx)
        assert fault.lease == p.duration + 5.0
    # an instantaneous fault keeps no duration whatever the hold drawn
    assert all(p.spec.duration == 0 for p in plan if p.spec.kind == "kill")
