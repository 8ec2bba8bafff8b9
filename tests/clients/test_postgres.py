"""PostgreSQL: rows as registers, a table as a set, a bank, against a real server, judged
valid; and registers and the bank through faultlab's proxy with faults active."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from faultlab.history import Outcome
from faultlab.workload.history_load import HistorySpec

from .helpers import Proxy, counts, judge, report, run_load

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("model", ["cas-register", "set", "bank"])
async def test_postgres_history_is_valid(postgres_address: str, tmp_path: Path,
                                         model: str) -> None:
    spec = HistorySpec("postgres", postgres_address, model, processes=4, keys=2, rate=60,
                       timeout=1.0, seed=21)
    history = await run_load(spec, 2.0, tmp_path / "history.jsonl")
    n = counts(history)
    assert n[Outcome.OK] >= 80 and n[Outcome.INFO] == 0, n
    if model == "bank":
        reads = [op for op in history if op.f == "read" and op.outcome is Outcome.OK]
        assert reads and all(isinstance(op.value, dict) and len(op.value) == spec.accounts
                             for op in reads)
        assert any(op.f == "transfer" and op.outcome is Outcome.OK for op in history)
    results = judge(history, spec)
    assert all(r.valid for r in results), report(results)


@pytest.mark.parametrize("model", ["cas-register", "bank"])
async def test_postgres_through_proxy_with_faults(postgres_address: str, proxy: Proxy,
                                                  tmp_path: Path, model: str) -> None:
    name, listen = await proxy.front(postgres_address)
    spec = HistorySpec("postgres", listen, model, processes=5, keys=2, rate=60,
                       timeout=0.3, seed=22)
    async with asyncio.TaskGroup() as tg:
        faults = tg.create_task(proxy.faults(name, spec.timeout))
        history = await run_load(spec, 2.4, tmp_path / "history.jsonl")
    assert faults.result() == ["latency", "down", "reset_peer"]
    n = counts(history)
    assert n[Outcome.INFO] >= 3 and n[Outcome.OK] >= 50, n
    results = judge(history, spec)
    assert all(r.valid for r in results), report(results)
