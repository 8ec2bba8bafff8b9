"""The demo KV service: its HTTP client's histories are valid, directly and through the
proxy with faults; and the deliberately broken store (``--lose-unsynced-writes``) is caught
after a SIGKILL and restart, while the durable store survives the same crash."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from faultlab.check import AnomalyKind, Verdict
from faultlab.history import History, Outcome
from faultlab.workload.history_load import HistorySpec

from .helpers import Proxy, counts, judge, report, run_load, valid_through_faults
from .servers import KvProcess

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("model", ["cas-register", "set"])
async def test_kv_history_is_valid(kv_durable: KvProcess, tmp_path: Path, model: str) -> None:
    spec = HistorySpec("kv-http", kv_durable.address, model, processes=4, keys=2, rate=60,
                       timeout=1.0, seed=41)
    history = await run_load(spec, 2.0, tmp_path / "history.jsonl")
    n = counts(history)
    assert n[Outcome.OK] >= 80 and n[Outcome.INFO] == 0, n
    results = judge(history, spec)
    assert all(r.valid for r in results), report(results)


async def test_kv_through_proxy_with_faults(kv_durable: KvProcess, proxy: Proxy,
                                            tmp_path: Path) -> None:
    await valid_through_faults(proxy, "kv-http", kv_durable.address, "cas-register", 42,
                               tmp_path / "history.jsonl")


async def _crash_run(tmp_path: Path, *, lose_unsynced: bool) -> tuple[History, HistorySpec]:
    """Adds to two sets; SIGKILL and restart the store 1.2 s in; the final reads after."""
    # A flush interval longer than the run: every acknowledged add is still unsynced at the
    # kill, so the broken store's loss does not depend on timing.
    kv = KvProcess(tmp_path, lose_unsynced=lose_unsynced, flush_interval=60.0)
    await kv.start()
    try:
        spec = HistorySpec("kv-http", kv.address, "set", processes=4, keys=2, rate=60,
                           timeout=0.5, seed=43)

        async def crash() -> None:
            await asyncio.sleep(1.2)
            await kv.kill()
            await kv.start()

        async with asyncio.TaskGroup() as tg:
            tg.create_task(crash())
            history = await run_load(spec, 2.5, tmp_path / "history.jsonl")
        assert kv.starts == 2
        acked_before_kill = [op for op in history if op.f == "add"
                             and op.outcome is Outcome.OK and op.index < 40]
        assert len(acked_before_kill) >= 20
        return history, spec
    finally:
        await kv.stop()


async def test_store_losing_unsynced_writes_is_caught(tmp_path: Path) -> None:
    history, spec = await _crash_run(tmp_path, lose_unsynced=True)
    linear, sets = judge(history, spec)
    assert linear.verdict is Verdict.INVALID, linear.render()
    assert sets.verdict is Verdict.INVALID, sets.render()
    assert any(a.kind is AnomalyKind.LOST for a in sets.anomalies), sets.render()


async def test_durable_store_survives_the_same_crash(tmp_path: Path) -> None:
    history, spec = await _crash_run(tmp_path, lose_unsynced=False)
    results = judge(history, spec)
    assert all(r.valid for r in results), report(results)
