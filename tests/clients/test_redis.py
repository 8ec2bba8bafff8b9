"""Redis: registers, sets and queues recorded against a real redis-server, judged valid;
and registers through faultlab's proxy with faults active: info ops, still valid."""

from __future__ import annotations

from pathlib import Path

import pytest

from faultlab.history import Outcome
from faultlab.workload.history_load import HistorySpec

from .helpers import Proxy, counts, judge, report, run_load, valid_through_faults

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("model", ["cas-register", "set", "queue"])
async def test_redis_history_is_valid(redis_address: str, tmp_path: Path, model: str) -> None:
    spec = HistorySpec("redis", redis_address, model, processes=4, keys=2, rate=60,
                       timeout=1.0, seed=11)
    history = await run_load(spec, tmp_path / "history.jsonl", acks=80)
    assert counts(history)[Outcome.INFO] == 0, counts(history)
    fs = {op.f for op in history if op.outcome is Outcome.OK}
    assert fs >= {"read", "write", "cas"} if model == "cas-register" else len(fs) == 2
    results = judge(history, spec)
    assert all(r.valid for r in results), report(results)


async def test_redis_through_proxy_with_faults(redis_address: str, proxy: Proxy,
                                               tmp_path: Path) -> None:
    await valid_through_faults(proxy, "redis", redis_address, "cas-register", 12,
                               tmp_path / "history.jsonl")
