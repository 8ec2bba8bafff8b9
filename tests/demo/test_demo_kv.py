"""The demo KV store's deliberate bug loses acknowledged writes by construction, and the
checkers catch it every time; the durable store keeps every acknowledged write.

A history is recorded around the store's own calls (in process) or its HTTP API (a real
process, SIGKILLed and restarted), with a clock that ticks once per reading, so each
operation comes strictly after the one before: nothing here depends on timing.
"""

from __future__ import annotations

from pathlib import Path

import aiohttp
import pytest

from faultlab.check import (
    AnomalyKind,
    Budget,
    CheckResult,
    Verdict,
    check_linearizable,
    check_set,
    get_model,
)
from faultlab.demo.services.kv import Store
from faultlab.history import History, Recorder

from .procs import ProcessGroup, free_ports, service_argv, url

ADDS = 20


class Ticks:
    """A clock that advances 1 ms each time it is read."""

    def __init__(self) -> None:
        self.t = 0.0

    def now(self) -> float:
        self.t += 0.001
        return self.t


def judge(history: History) -> tuple[CheckResult, CheckResult]:
    return check_set(history), check_linearizable(history, get_model("set"), Budget(time_s=10))


def lost(result: CheckResult) -> set[object]:
    """The values of the acknowledged adds the checker found lost."""
    return {op.value for a in result.anomalies if a.kind is AnomalyKind.LOST
            for op in a.ops if op.f == "add"}


def crash_and_read(path: Path, *, lose_unsynced: bool) -> History:
    """ADDS acknowledged adds, a crash (the store abandoned, never closed), a restart from
    the data file, and a read of the set."""
    recorder = Recorder(Ticks())
    crashed = Store(path, lose_unsynced=lose_unsynced)
    for value in range(1, ADDS + 1):
        handle = recorder.invoke(0, "add", value, key="s")
        crashed.mutate("add", "s", value)
        handle.ok(value)
    assert crashed.unsynced == (ADDS if lose_unsynced else 0)
    restarted = Store(path, lose_unsynced=lose_unsynced)
    handle = recorder.invoke(1, "read", key="s")
    handle.ok(tuple(sorted(restarted.sets.get("s", set()))))
    restarted.close()
    if not lose_unsynced:
        crashed.close()  # durable: closing adds nothing a crash would not have kept
    return recorder.close()


def test_losing_store_loses_every_acknowledged_write_of_a_crash(tmp_path: Path) -> None:
    sets, linear = judge(crash_and_read(tmp_path / "kv.data", lose_unsynced=True))
    assert sets.verdict is Verdict.INVALID, sets.render()
    assert lost(sets) == set(range(1, ADDS + 1)), sets.render()
    assert linear.verdict is Verdict.INVALID, linear.render()


def test_durable_store_keeps_every_acknowledged_write(tmp_path: Path) -> None:
    history = crash_and_read(tmp_path / "kv.data", lose_unsynced=False)
    assert list(history)[-1].value == tuple(range(1, ADDS + 1))
    for result in judge(history):
        assert result.verdict is Verdict.VALID, result.render()


def test_a_clean_stop_writes_what_was_unsynced(tmp_path: Path) -> None:
    store = Store(tmp_path / "kv.data", lose_unsynced=True)
    store.mutate("add", "s", 1)
    store.mutate("put", "r", 2)
    store.close()
    again = Store(tmp_path / "kv.data", lose_unsynced=True)
    assert (again.sets, again.registers, again.unsynced) == ({"s": {1}}, {"r": 2}, 0)
    again.close()


@pytest.mark.slow
@pytest.mark.parametrize("lose_unsynced", [True, False], ids=["losing", "durable"])
async def test_sigkill_of_the_real_process(
    lose_unsynced: bool, processes: ProcessGroup, tmp_path: Path
) -> None:
    """The same through HTTP against the real process: acknowledged adds, SIGKILL, restart
    (on the same port and data file), read."""
    (port,) = free_ports(1)
    flags = ["--lose-unsynced-writes"] if lose_unsynced else []
    argv = service_argv("kv", port, "--data-file", str(tmp_path / "kv.data"), *flags)
    (kv,) = processes.launch([("kv", argv)])
    recorder = Recorder(Ticks())
    timeout = aiohttp.ClientTimeout(total=10)
    async with aiohttp.ClientSession(timeout=timeout) as session:
        for value in range(1, ADDS + 1):
            handle = recorder.invoke(0, "add", value, key="s")
            async with session.post(f"{url(port)}/set/s/add", json={"value": value}) as r:
                assert r.status == 200
            handle.ok(value)
    processes.restart(kv)  # SIGKILL, then the same command line again
    async with aiohttp.ClientSession(timeout=timeout) as session:
        handle = recorder.invoke(1, "read", key="s")
        async with session.get(f"{url(port)}/set/s") as r:
            handle.ok(tuple((await r.json())["values"]))
    sets, linear = judge(recorder.close())
    if lose_unsynced:
        assert lost(sets) == set(range(1, ADDS + 1)), sets.render()
        assert linear.verdict is Verdict.INVALID, linear.render()
    else:
        assert (sets.verdict, linear.verdict) == (Verdict.VALID, Verdict.VALID), sets.render()
