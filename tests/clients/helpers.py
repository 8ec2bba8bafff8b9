"""What the client tests share: a proxy in front of a server, a fault schedule, judging, and
loads that end on progress (a number of acknowledged operations), not after a time.

A busy machine makes every operation slower, so a load of fixed length acknowledges fewer
of them, and a bound on that number fails for reasons the test does not control. Here the
test waits for the acknowledgements it needs instead (each wait bounded by
:data:`PROGRESS_TIMEOUT`, so a system that never answers fails clearly).
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Callable, Collection
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
from faultlab.history import History, Outcome, Value, read_jsonl
from faultlab.proxy.client import ProxyClient
from faultlab.workload.clients import Client, OpKind, make_client
from faultlab.workload.history_load import HistoryLoad, HistorySpec

BUDGET = Budget(time_s=30.0)
PROGRESS_TIMEOUT = 60.0  # seconds a load may take to make the progress a test waits for


class Acks:
    """Counts acknowledged operations over every client a load makes (of ``kinds``, or all),
    so that a test can wait for progress: ``await acks.reach(n)``."""

    def __init__(self, spec: HistorySpec, kinds: Collection[OpKind] | None = None) -> None:
        self.spec, self.kinds = spec, kinds
        self.count = 0
        self._changed = asyncio.Event()

    def client(self, slot: int = 0) -> Client:
        """A client for ``spec`` that counts (a ``client_factory`` for HistoryLoad)."""
        inner = make_client(self.spec.client, self.spec.address, timeout=self.spec.timeout)
        return _Counted(inner, self)

    def acked(self, kind: OpKind) -> None:
        if self.kinds is None or kind in self.kinds:
            self.count += 1
            self._changed.set()

    async def reach(self, n: int) -> None:
        try:
            async with asyncio.timeout(PROGRESS_TIMEOUT):
                while self.count < n:
                    self._changed.clear()
                    await self._changed.wait()
        except TimeoutError:
            raise AssertionError(f"only {self.count} of {n} operations acknowledged within "
                                 f"{PROGRESS_TIMEOUT:g}s") from None


class _Counted:
    def __init__(self, inner: Client, acks: Acks) -> None:
        self._inner, self._acks = inner, acks
        self.kinds = inner.kinds

    async def setup(self) -> None:
        await self._inner.setup()

    async def apply(self, kind: OpKind, key: str, value: Value) -> Value:
        result = await self._inner.apply(kind, key, value)
        self._acks.acked(kind)
        return result

    async def close(self) -> None:
        await self._inner.close()


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


async def run_load(spec: HistorySpec, sink: Path, acks: int) -> History:
    """A load that ends once ``acks`` operations were acknowledged (then the final reads)."""
    counter = Acks(spec)
    load = HistoryLoad(spec, clock=MonotonicClock(), sink=sink, client_factory=counter.client)
    async with asyncio.TaskGroup() as tg:
        run = tg.create_task(load.run(MonotonicClock().now(), math.inf))
        await counter.reach(acks)
        load.stop_at(MonotonicClock().now())
    return _read_back(run.result(), sink)


def _read_back(history: History, sink: Path) -> History:
    """The history read back from the sink equals the one returned."""
    assert sorted(read_jsonl(sink), key=lambda op: op.index) == list(history)
    return history


#: Acknowledged operations before the faults start, and again after they are healed.
HEALTHY_ACKS = 10


async def valid_through_faults(proxy: Proxy, client: str, address: str, model: str,
                               seed: int, sink: Path) -> History:
    """A run through faultlab's proxy while it applies latency, down and reset_peer: there
    must be unknown outcomes, and a history judged valid.

    The faults start once the healthy system has acknowledged :data:`HEALTHY_ACKS`
    operations, and the load ends once it has acknowledged as many again after the faults
    were healed, so the history has acknowledged operations on both sides of the faults
    however slow the machine is (and a system that does not recover fails the test).
    """
    name, listen = await proxy.front(address)
    spec = HistorySpec(client, listen, model, processes=5, keys=2, rate=60, timeout=0.3,
                       seed=seed)
    clock, counter = MonotonicClock(), Acks(spec)
    load = HistoryLoad(spec, clock=clock, sink=sink, client_factory=counter.client)
    async with asyncio.TaskGroup() as tg:
        run = tg.create_task(load.run(clock.now(), math.inf))
        await counter.reach(HEALTHY_ACKS)
        applied = await proxy.faults(name, spec.timeout, start=0.0)
        await counter.reach(counter.count + HEALTHY_ACKS)
        load.stop_at(clock.now())
    history = _read_back(run.result(), sink)
    assert applied == ["latency", "down", "reset_peer"]
    n = counts(history)
    assert n[Outcome.INFO] >= 3, n  # the latency fault outlasts the client's timeout
    results = judge(history, spec)
    assert all(r.valid for r in results), report(results)
    return history
