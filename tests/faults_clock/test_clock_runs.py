"""Clock faults in real runs: a service started under libfaketime by ``faultlab run`` sees its
clock skewed, bumped and strobed, and put back by the runner, by its keeper when faultlab is
SIGKILLed, and by ``faultlab recover``.

The service's clock is compared with this process's (which runs without libfaketime), with
a tolerance of seconds against offsets of 30 s or more: nothing depends on how fast the
machine runs, and every wait is a bounded poll for a state, not a sleep."""

from __future__ import annotations

import signal
from typing import Any

import pytest

pytestmark = pytest.mark.slow

HOUR = 3600.0


@pytest.mark.parametrize(("fault", "expected"), [
    ("{name: clock, target: svc, kind: clock_skew, offset: '-30s', duration: 5s}", -30.0),
    ("{name: clock, target: svc, kind: clock_bump, delta: '+2m', duration: 5s}", 120.0),
])
def test_the_clock_is_off_during_the_fault_and_back_after(
        lab: Any, fault: str, expected: float) -> None:
    lab.start(lab.experiment(f"  - {fault}", gate=True))
    lab.wait_event("fault_injected", "clock")
    lab.wait_offset(expected)
    lab.wait_event("fault_reverted", "clock")
    assert lab.control.read_text() == "+0\n"
    lab.wait_offset(0.0)
    lab.gate.touch()
    assert lab.proc.wait(timeout=60) == 0, lab.proc.stderr.read().decode()
    assert lab.alive(lab.keepers()) == []


def test_strobe_flips_between_zero_and_delta(lab: Any) -> None:
    lab.start(lab.experiment("  - {name: clock, target: svc, kind: clock_strobe, "
                             "delta: '+1h', period: 1s, duration: 120s}"))
    lab.wait_event("fault_injected", "clock")
    seen: list[str] = []

    def flipped() -> bool:
        off = lab.offset()
        state = None if off is None else ("1h" if abs(off - HOUR) < 60 else
                                          "0" if abs(off) < 60 else None)
        if state is not None and (not seen or seen[-1] != state):
            seen.append(state)
        return "1h" in seen[:-1] and seen[-1] == "0"  # +1h, then +0 again: a flip

    lab.wait_for(flipped, "the strobe to show +1h and then +0")
    lab.proc.send_signal(signal.SIGINT)
    assert lab.proc.wait(timeout=60) == 3
    assert lab.control.read_text() == "+0\n"
    assert lab.alive(lab.keepers()) == []


@pytest.mark.parametrize("then", ["lease", "recover"])
def test_after_sigkill_the_keeper_resets_at_the_lease_and_recover_at_once(
        lab: Any, then: str) -> None:
    # A lease long enough that "at once" (recover) cannot be the keeper's doing.
    grace = "1s" if then == "lease" else "10m"
    lab.start(lab.experiment("  - {name: clock, target: svc, kind: clock_skew, "
                             "offset: '+1h', duration: 2s}", grace=grace))
    lab.wait_event("fault_injected", "clock")
    lab.wait_offset(HOUR)
    lab.proc.kill()
    lab.proc.wait(timeout=30)
    assert lab.control.read_text() == "+3600\n"
    keepers = lab.keepers()
    assert len(keepers) == 1 and lab.alive(keepers) == keepers
    if then == "lease":
        lab.wait_for(lambda: lab.control.read_text() == "+0\n", "the keeper's reset")
        lab.wait_offset(0.0)  # the service, still running, has its clock back
        lab.wait_for(lambda: not lab.alive(keepers), "the keeper to exit")
    result = lab.faultlab("recover", str(lab.run_dir))
    assert result.returncode == 0, result.stderr
    assert lab.control.read_text() == "+0\n"
    assert lab.alive(keepers) == []
    assert lab.alive(lab.services()) == []
    again = lab.faultlab("recover", str(lab.run_dir))
    assert again.returncode == 0, again.stderr
