"""PostgreSQL: rows as registers, a table as a set, a bank, against a real server, judged
valid; and registers and the bank through faultlab's proxy with faults active."""

from __future__ import annotations

from pathlib import Path

import pytest

from faultlab.history import Outcome
from faultlab.workload.history_load import HistorySpec

from .helpers import Proxy, counts, judge, report, run_load, valid_through_faults

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("model", ["cas-register", "set", "bank"])
async def test_postgres_history_is_valid(postgres_address: str, tmp_path: Path,
                                         model: str) -> None:
    spec = HistorySpec("postgres", postgres_address, model, processes=4, keys=2, rate=60,
                       timeout=1.0, seed=21)
    history = await run_load(spec, tmp_path / "history.jsonl", acks=80)
    assert counts(history)[Outcome.INFO] == 0, counts(history)
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
    await valid_through_faults(proxy, "postgres", postgres_address, model, 22,
                               tmp_path / "history.jsonl")
