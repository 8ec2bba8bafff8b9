"""The demo KV service: its HTTP client's histories are valid, directly and through the
proxy with faults; and the deliberately broken store (``--lose-unsynced-writes``) is caught
after a SIGKILL and restart, while the durable store survives the same crash."""

from __future__ import annotations

import asyncio
import contextlib
import math
from pathlib import Path

import pytest

from faultlab.check import AnomalyKind, Verdict
from faultlab.clock import MonotonicClock
from faultlab.history import History, Op, Outcome
from faultlab.workload.clients import ClientError, Indefinite, OpKind, make_client
from faultlab.workload.history_load import HistoryLoad, HistorySpec

from .helpers import Acks, Proxy, counts, judge, report, run_load, valid_through_faults
from .servers import KvProcess

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("model", ["cas-register", "set"])
async def test_kv_history_is_valid(kv_durable: KvProcess, tmp_path: Path, model: str) -> None:
    spec = HistorySpec("kv-http", kv_durable.address, model, processes=4, keys=2, rate=60,
                       timeout=1.0, seed=41)
    history = await run_load(spec, tmp_path / "history.jsonl", acks=80)
    assert counts(history)[Outcome.INFO] == 0, counts(history)
    results = judge(history, spec)
    assert all(r.valid for r in results), report(results)


async def test_kv_through_proxy_with_faults(kv_durable: KvProcess, proxy: Proxy,
                                            tmp_path: Path) -> None:
    await valid_through_faults(proxy, "kv-http", kv_durable.address, "cas-register", 42,
                               tmp_path / "history.jsonl")


ACKED_BEFORE_CRASH = 20


async def _crash_run(tmp_path: Path, *, lose_unsynced: bool) -> tuple[History, HistorySpec]:
    """Adds to two sets; once 20 adds are acknowledged, SIGKILL and restart the store; then
    the load ends, and its final reads go to the restarted store.

    Each step waits for the one before (acknowledgements, the restarted store's ready line),
    never for a timer, so a busy machine changes how long this takes, not what it shows.
    """
    kv = KvProcess(tmp_path, lose_unsynced=lose_unsynced)
    await kv.start()
    try:
        spec = HistorySpec("kv-http", kv.address, "set", processes=4, keys=2, rate=60,
                           timeout=2.0, seed=43)
        clock, adds = MonotonicClock(), Acks(spec, kinds={OpKind.ADD})
        load = HistoryLoad(spec, clock=clock, sink=tmp_path / "history.jsonl",
                           client_factory=adds.client)
        async with asyncio.TaskGroup() as tg:
            run = tg.create_task(load.run(clock.now(), math.inf))
            await adds.reach(ACKED_BEFORE_CRASH)
            crash_ns = round(clock.now() * 1e9)
            await kv.kill()
            await kv.start()
            load.stop_at(clock.now())
        history = run.result()
        assert kv.starts == 2
        before = {op.value for op in history if op.f == "add" and op.outcome is Outcome.OK
                  and op.complete_ns is not None and op.complete_ns < crash_ns}
        assert len(before) >= ACKED_BEFORE_CRASH
        final = _final_reads(history, spec)
        assert all(op.outcome is Outcome.OK for op in final), final
        seen = {v for op in final if isinstance(op.value, tuple) for v in op.value}
        if lose_unsynced:  # every one of them lost, by construction
            assert seen.isdisjoint(before), seen & before
        else:  # every one kept, so the verdict the test asserts is not vacuous
            assert before <= seen, before - seen
        return history, spec
    finally:
        await kv.stop()


def _final_reads(history: History, spec: HistorySpec) -> list[Op]:
    """The last read of each key: the load's final reads, after every other operation."""
    last: dict[object, Op] = {}
    for op in history:
        if op.f == "read" and (op.key not in last or op.index > last[op.key].index):
            last[op.key] = op
    assert len(last) == spec.keys, last
    return list(last.values())


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


async def test_a_write_whose_connection_drops_after_sending_is_unknown() -> None:
    """The server applies a PUT, then drops the connection without answering, and refuses
    new connections (faultlab's proxy going down does exactly this): the client must not
    report a definite failure for a write that happened."""
    requests: list[bytes] = []

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(asyncio.IncompleteReadError, ConnectionError):
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = next((int(line.split(b":")[1]) for line in head.split(b"\r\n")
                               if line.lower().startswith(b"content-length:")), 0)
                await reader.readexactly(length)
                requests.append(head.split(b"\r\n")[0])
                if head.startswith(b"PUT"):  # applied; the answer never leaves
                    writer.transport.abort()
                    return
                writer.write(b'HTTP/1.1 200 OK\r\nContent-Length: 15\r\n\r\n{"value": null}')
                await writer.drain()
        writer.close()

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    client = make_client("kv-http", f"127.0.0.1:{port}", timeout=2.0)
    try:
        assert await client.apply(OpKind.READ, "k", None) is None  # opens the connection
        server.close()  # from now on a new connection is refused
        await server.wait_closed()
        with pytest.raises(ClientError) as raised:
            await client.apply(OpKind.WRITE, "k", 35)
        assert requests == [b"GET /kv/k HTTP/1.1", b"PUT /kv/k HTTP/1.1"]
        assert isinstance(raised.value, Indefinite), raised.value
    finally:
        await client.close()
