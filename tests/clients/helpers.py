"""What the client tests share: a proxy in front of a server, a fault schedule, judging."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from faultlab.check import (
    Budget,
    CheckResult,
    check_bank,
    check_linearizable,
    check_queue,
    check_set,
    get_model,
)
from faultlab.clock import MonotonicClock
from faultlab.history import History, Outcome, read_jsonl
from faultlab.proxy.client import ProxyClient
from faultlab.workload.history_load import HistoryLoad, HistorySpec

BUDGET = Budget(time_s=30.0)


@dataclass
class Proxy:
    api: ProxyClient
    ports: Callable[[int], list[int]]
    names: list[str] = field(default_factory=list)

    async def front(self, upstream: str) -> tuple[str, str]:
        """A proxy to ``upstream``: (its name, its listen address)."""
        name = f"p{len(self.names)}"
        listen = f"127.0.0.1:{self.ports(1)[0]}"
        await self.api.create_proxy(name, listen, upstream)
        self.names.append(name)
        return name, listen

    async def faults(self, name: str, timeout: float, start: float = 0.3) -> list[str]:
        """Latency beyond the client timeout, then down, then reset_peer; healed at the end.

        Returns the faults applied, in order. Every fault is undone before returning, even
        when cancelled.
        """
        done: list[str] = []
        try:
            await asyncio.sleep(start)
            await self.api.add_toxic(name, "latency", {"latency": timeout * 2000, "jitter": 0},
                                     name="slow")
            done.append("latency")
            await asyncio.sleep(0.5)
            await self.api.remove_toxic(name, "slow")
            await asyncio.sleep(0.2)
            await self.api.set_enabled(name, False)
            done.append("down")
            await asyncio.sleep(0.4)
            await self.api.set_enabled(name, True)
            await asyncio.sleep(0.2)
            await self.api.add_toxic(name, "reset_peer", {"timeout": 0}, name="reset")
            done.append("reset_peer")
            await asyncio.sleep(0.3)
        finally:
            await asyncio.shield(self.heal(name))
        return done

    async def heal(self, name: str) -> None:
        await self.api.remove_toxic(name, "slow")
        await self.api.remove_toxic(name, "reset")
        await self.api.set_enabled(name, True)


def judge(history: History, spec: HistorySpec) -> list[CheckResult]:
    """The checkers that apply to ``spec.model``."""
    if spec.model == "bank":
        accounts = [f"a{i}" for i in range(spec.accounts)]
        return [check_bank(history, total=spec.total, accounts=accounts)]
    results = [check_linearizable(history, get_model(spec.model), BUDGET)]
    if spec.model == "set":
        results.append(check_set(history))
    if spec.model == "queue" and not any(op.outcome is Outcome.INFO for op in history):
        results.append(check_queue(history, drained=True))
    return results


def report(results: list[CheckResult]) -> str:
    return "\n".join(r.render() for r in results)


def counts(history: History) -> dict[Outcome, int]:
    out = dict.fromkeys(Outcome, 0)
    for op in history:
        out[op.outcome] += 1
    return out


async def run_load(spec: HistorySpec, seconds: float, sink: Path) -> History:
    """A run of ``seconds`` from now; the history read back from the sink equals it."""
    clock = MonotonicClock()
    load = HistoryLoad(spec, clock=clock, sink=sink)
    start = clock.now()
    history = await load.run(start, start + seconds)
    assert sorted(read_jsonl(sink), key=lambda op: op.index) == list(history)
    return history


async def valid_through_faults(proxy: Proxy, client: str, address: str, model: str,
                               seed: int, sink: Path) -> History:
    """A run through faultlab's proxy while it applies latency, down and reset_peer: there
    must be unknown outcomes, enough acknowledged ones, and a history judged valid."""
    name, listen = await proxy.front(address)
    spec = HistorySpec(client, listen, model, processes=5, keys=2, rate=60, timeout=0.3,
                       seed=seed)
    async with asyncio.TaskGroup() as tg:
        faults = tg.create_task(proxy.faults(name, spec.timeout))
        history = await run_load(spec, 2.4, sink)
    assert faults.result() == ["latency", "down", "reset_peer"]
    n = counts(history)
    assert n[Outcome.INFO] >= 3 and n[Outcome.OK] >= 50, n
    results = judge(history, spec)
    assert all(r.valid for r in results), report(results)
    return history

