"""etcd v3 through its HTTP gateway: registers with cas (txn) and sets, against a real
member, judged valid; and registers through faultlab's proxy with faults active."""

from __future__ import annotations

from pathlib import Path

import pytest

from faultlab.history import Outcome
from faultlab.workload.history_load import HistorySpec

from .helpers import Proxy, counts, judge, report, run_load, valid_through_faults

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("model", ["cas-register", "set"])
async def test_etcd_history_is_valid(etcd_address: str, tmp_path: Path, model: str) -> None:
    spec = HistorySpec("etcd", etcd_address, model, processes=4, keys=2, rate=60,
                       timeout=1.0, seed=31)
    history = await run_load(spec, tmp_path / "history.jsonl", acks=80)
    assert counts(history)[Outcome.INFO] == 0, counts(history)
    results = judge(history, spec)
    assert all(r.valid for r in results), report(results)


async def test_etcd_through_proxy_with_faults(etcd_address: str, proxy: Proxy,
                                              tmp_path: Path) -> None:
    await valid_through_faults(proxy, "etcd", etcd_address, "cas-register", 32,
                               tmp_path / "history.jsonl")
