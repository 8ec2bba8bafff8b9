"""HistoryLoad on a fake client in virtual time: reproducible operations, retired processes,
drops when every process is busy, stop_at, final reads, and bad specs."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from faultlab.check import check_linearizable, get_model
from faultlab.clock import ManualClock
from faultlab.demo.services.kv import Store
from faultlab.history import History, Outcome, Value, read_jsonl
from faultlab.workload.clients import Client, Definite, Indefinite, OpKind, make_client
from faultlab.workload.history_load import HistoryLoad, HistorySpec


class FakeRegisters:
    """An in-memory linearizable store; every ``info_every``-th call is lost (Indefinite)."""

    kinds = frozenset({OpKind.READ, OpKind.WRITE, OpKind.CAS})
    calls = 0
    closed = 0

    def __init__(self, state: dict[str, Value], *, info_every: int = 0,
                 block: asyncio.Event | None = None) -> None:
        self.state, self.info_every, self.block = state, info_every, block

    async def setup(self) -> None:
        pass

    async def apply(self, kind: OpKind, key: str, value: Value) -> Value:
        FakeRegisters.calls += 1
        if self.block is not None:
            await self.block.wait()
        await asyncio.sleep(0)
        if self.info_every and FakeRegisters.calls % self.info_every == 0:
            raise Indefinite("lost")
        if kind is OpKind.READ:
            return self.state.get(key)
        if kind is OpKind.WRITE:
            self.state[key] = value
            return value
        assert isinstance(value, tuple)
        if self.state.get(key) != value[0]:
            raise Definite("mismatch")
        self.state[key] = value[1]
        return value

    async def close(self) -> None:
        FakeRegisters.closed += 1


async def drive(load: HistoryLoad, clock: ManualClock, seconds: float,
                stop_at: float | None = None) -> History:
    start = clock.now()
    task = asyncio.create_task(load.run(start, start + seconds))
    for step in range(int(seconds * 100) + 100):
        if stop_at is not None and step == int(stop_at * 100):
            load.stop_at(start + stop_at)
        for _ in range(10):  # let the operations in flight finish: they take no time
            await asyncio.sleep(0)
        await clock.advance(0.01)
        if task.done():
            break
    return await task


def spec(**kw: object) -> HistorySpec:
    base: dict[str, object] = {"client": "redis", "address": "127.0.0.1:1",
                               "model": "cas-register", "processes": 3, "keys": 2,
                               "rate": 50.0, "timeout": 1.0, "seed": 5, "namespace": "t"}
    base.update(kw)
    return HistorySpec(**base)  # type: ignore[arg-type]


def make(state: dict[str, Value], **kw: object) -> tuple[HistoryLoad, ManualClock]:
    clock = ManualClock()
    s = spec(**kw)
    return HistoryLoad(s, clock=clock, client_factory=lambda _slot: FakeRegisters(state)), clock


def contents(history: History) -> list[tuple[str, object, Value]]:
    return [(op.f, op.key, op.value if op.f != "read" else None) for op in history
            if op.outcome is not Outcome.OK or op.f != "read"]


async def test_operations_depend_only_on_the_seed(tmp_path: Path) -> None:
    a, clock_a = make({})
    b, clock_b = make({})
    c, clock_c = make({}, seed=6)
    ha, hb, hc = (await drive(a, clock_a, 1.0), await drive(b, clock_b, 1.0),
                  await drive(c, clock_c, 1.0))
    assert a.stats.planned == 50 and a.stats.dropped == 0
    assert contents(ha) == contents(hb) != contents(hc)
    written = [op.value for op in ha if op.f == "write"]
    assert len(written) == len(set(written)) > 5
    assert {op.f for op in ha} == {"read", "write", "cas"}
    assert check_linearizable(ha, get_model("cas-register")).valid


async def test_a_process_whose_op_is_info_is_retired(tmp_path: Path) -> None:
    FakeRegisters.calls = FakeRegisters.closed = 0
    clock, state = ManualClock(), dict[str, Value]()
    sink = tmp_path / "h.jsonl"
    load = HistoryLoad(spec(), clock=clock, sink=sink,
                       client_factory=lambda _slot: FakeRegisters(state, info_every=7))
    history = await drive(load, clock, 1.0)
    infos = [op for op in history if op.outcome is Outcome.INFO]
    assert len(infos) >= 5 and load.stats.retired == len(infos)
    for op in infos:  # a crashed process never invokes again; its slot goes on as +3
        assert isinstance(op.process, int)
        assert all(later.process != op.process for later in history
                   if later.invoke_ns > op.invoke_ns)
        assert any(later.process == op.process + 3 for later in history)
    assert FakeRegisters.closed >= len(infos)
    assert sorted(read_jsonl(sink), key=lambda op: op.index) == list(history)


async def test_ops_are_dropped_when_every_process_is_busy() -> None:
    clock, block = ManualClock(), asyncio.Event()
    load = HistoryLoad(spec(final_reads=False), clock=clock,
                       client_factory=lambda _slot: FakeRegisters({}, block=block))
    start = clock.now()
    task = asyncio.create_task(load.run(start, start + 0.5))
    for _ in range(60):
        await asyncio.sleep(0)
        await clock.advance(0.01)
    block.set()
    history = await task
    assert load.stats.planned == 25 and load.stats.invoked == 3 and load.stats.dropped == 22
    assert len(history) == 3


async def test_stop_at_ends_the_plan_early() -> None:
    load, clock = make({}, final_reads=False)
    history = await drive(load, clock, 100.0, stop_at=0.5)
    assert load.stats.planned == 25 and len(history) == 25


async def test_final_reads_read_every_key() -> None:
    load, clock = make({}, keys=3, rate=1.0)
    history = await drive(load, clock, 0.5)
    assert load.stats.planned == 1 and load.stats.final == 3
    assert sorted(op.key for op in history[-3:]) == ["k0", "k1", "k2"]  # type: ignore[type-var]


@pytest.mark.parametrize(("kw", "message"), [
    ({"client": "mongo"}, "unknown client"),
    ({"model": "graph"}, "unknown model"),
    ({"rate": 0.0}, "rate must be"),
    ({"processes": 0}, "processes must be"),
    ({"namespace": "a/b"}, "namespace"),
])
def test_bad_specs_say_what_is_wrong(kw: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        spec(**kw)


async def test_a_model_the_client_cannot_run_is_refused() -> None:
    load = HistoryLoad(spec(client="etcd", model="queue"))
    with pytest.raises(ValueError, match="cannot run model 'queue'"):
        await load.prepare()


def test_make_client_checks_kind_and_address() -> None:
    with pytest.raises(ValueError, match="did you mean 'redis'"):
        make_client("rediss", "127.0.0.1:1")
    with pytest.raises(ValueError, match="address"):
        make_client("redis", "localhost")
    client: Client = make_client("kv-http", "127.0.0.1:1")
    assert OpKind.CAS in client.kinds


def test_kv_store_ignores_a_torn_last_record(tmp_path: Path) -> None:
    path = tmp_path / "kv.data"
    path.write_bytes(b'{"op":"put","key":"a","value":1}\n{"op":"add","key":"s","value":2}\n'
                     b'{"op":"put","key":"a","val')
    store = Store(path)
    assert store.registers == {"a": 1} and store.sets == {"s": {2}}
    store.mutate("put", "a", 3)
    store.close()
    again = Store(path)
    assert again.registers == {"a": 3}
    again.close()


def test_kv_store_keeps_a_whole_last_record_without_newline(tmp_path: Path) -> None:
    path = tmp_path / "kv.data"
    path.write_bytes(b'{"op":"put","key":"a","value":1}')
    store = Store(path)
    store.mutate("add", "s", 5)
    store.close()
    again = Store(path)
    assert again.registers == {"a": 1} and again.sets == {"s": {5}}
    again.close()


def test_public_api_is_locked() -> None:
    import faultlab.workload.clients as clients
    import faultlab.workload.history_load as history_load

    assert clients.__all__ == ["CLIENT_KINDS", "Client", "ClientError", "Definite",
                               "Indefinite", "OpKind", "make_client"]
    assert history_load.__all__ == ["MODELS", "OVERRUN_GRACE", "HistoryLoad",
                                    "HistoryRunStats", "HistorySpec"]
