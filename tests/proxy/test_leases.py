"""Leases in virtual time: the registry driven by a ManualClock, with real listeners."""

from __future__ import annotations

import asyncio
import io
import socket
from collections.abc import AsyncIterator

import pytest

from faultlab.clock import ManualClock
from faultlab.proxy.events import EventLog
from faultlab.proxy.registry import Registry
from faultlab.proxy.schema import (
    parse_proxy_create,
    parse_proxy_update,
    parse_toxic_create,
    parse_toxic_update,
)

from .helpers import events, eventually


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
async def registry(clock: ManualClock, log: io.StringIO) -> AsyncIterator[Registry]:
    registry = Registry(events=EventLog(log), seed=1, clock=clock)
    await registry.start()
    try:
        await registry.create_proxy(parse_proxy_create({"name": "db",
                                                        "upstream": "127.0.0.1:9"}))
        yield registry
    finally:
        await registry.close()


def toxic_names(registry: Registry) -> list[str]:
    return [spec.name for spec in registry.get("db").toxics]


async def add(registry: Registry, name: str, ttl: float | None) -> None:
    await registry.add_toxic("db", parse_toxic_create({"type": "latency", "name": name,
                                                       "ttl": ttl}))


async def quiesce() -> None:
    """Give the lease task real time to act, before asserting that it did nothing."""
    await asyncio.sleep(0.05)


async def settle(predicate: object) -> None:
    async def check() -> bool:
        return bool(predicate() if callable(predicate) else predicate)

    await eventually(check, timeout=2.0)


async def test_a_toxic_lease_removes_it_when_due_and_not_before(registry: Registry,
                                                                clock: ManualClock) -> None:
    await add(registry, "slow", ttl=30)
    await add(registry, "kept", ttl=None)
    await clock.advance(29.9)
    await quiesce()
    assert toxic_names(registry) == ["slow", "kept"]
    assert registry.toxic_json(registry.get("db"), registry.get("db").toxics[0])[
        "ttl_remaining"] == pytest.approx(0.1)
    await clock.advance(0.2)
    await settle(lambda: toxic_names(registry) == ["kept"])


async def test_a_disabled_proxy_comes_back_when_its_lease_ends(registry: Registry,
                                                               clock: ManualClock,
                                                               log: io.StringIO) -> None:
    listen = registry.get("db").listen
    await registry.update_proxy("db", parse_proxy_update({"enabled": False, "ttl": 60}))
    assert not registry.get("db").enabled
    await clock.advance(59)
    await quiesce()
    assert not registry.get("db").enabled
    await clock.advance(2)
    await settle(lambda: registry.get("db").enabled)
    assert registry.get("db").listen == listen
    assert registry.get("db").reenable_at is None
    assert "proxy_lease_expired" in [e["event"] for e in events(log.getvalue())]


async def test_removing_a_toxic_removes_its_lease(registry: Registry,
                                                  clock: ManualClock) -> None:
    await add(registry, "t", ttl=10)
    await registry.remove_toxic("db", "t")
    await add(registry, "t", ttl=None)  # same name, no lease: the old one must not fire
    await clock.advance(20)
    await quiesce()
    assert toxic_names(registry) == ["t"]


async def test_a_lease_can_be_renewed_or_dropped(registry: Registry,
                                                 clock: ManualClock) -> None:
    await add(registry, "renewed", ttl=10)
    await add(registry, "dropped", ttl=10)
    await clock.advance(8)
    await registry.update_toxic("db", "renewed", parse_toxic_update({"ttl": 10}))
    await registry.update_toxic("db", "dropped", parse_toxic_update({"ttl": None}))
    await clock.advance(5)  # t = 13: past the first leases, before the renewed one
    await quiesce()
    assert toxic_names(registry) == ["renewed", "dropped"]
    await clock.advance(6)
    await settle(lambda: toxic_names(registry) == ["dropped"])


async def test_enabling_by_hand_cancels_the_down_lease(registry: Registry) -> None:
    await registry.update_proxy("db", parse_proxy_update({"enabled": False, "ttl": 5}))
    proxy = await registry.update_proxy("db", parse_proxy_update({"enabled": True}))
    assert proxy.reenable_at is None
    assert registry.proxy_json(proxy)["ttl_remaining"] is None


async def test_disabling_again_without_ttl_replaces_the_lease(registry: Registry,
                                                              clock: ManualClock) -> None:
    await registry.update_proxy("db", parse_proxy_update({"enabled": False, "ttl": 5}))
    await registry.update_proxy("db", parse_proxy_update({"enabled": False}))
    await clock.advance(10)
    await quiesce()
    assert not registry.get("db").enabled


async def test_a_lease_that_cannot_reenable_is_retried(registry: Registry, clock: ManualClock,
                                                       log: io.StringIO) -> None:
    listen = registry.get("db").listen
    await registry.update_proxy("db", parse_proxy_update({"enabled": False, "ttl": 5}))
    host, _, port = listen.rpartition(":")
    squatter = socket.socket()
    try:
        squatter.bind((host, int(port)))  # someone took the port meanwhile
        squatter.listen()
        await clock.advance(6)
        await settle(lambda: "proxy_lease_retry" in log.getvalue())
        assert not registry.get("db").enabled
        assert registry.get("db").reenable_at is not None
    finally:
        squatter.close()
    await clock.advance(1.5)
    await settle(lambda: registry.get("db").enabled)


async def test_a_bug_while_expiring_does_not_end_lease_enforcement(
        registry: Registry, clock: ManualClock, log: io.StringIO,
        monkeypatch: pytest.MonkeyPatch) -> None:
    proxy = registry.get("db")
    await registry.update_proxy("db", parse_proxy_update({"enabled": False, "ttl": 5}))
    real_start = proxy.start
    calls = 0

    async def start_failing_once() -> None:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise RuntimeError("boom")
        await real_start()

    monkeypatch.setattr(proxy, "start", start_failing_once)
    await clock.advance(6)
    await settle(lambda: "lease_error" in log.getvalue())
    assert not proxy.enabled
    await clock.advance(1.5)
    await settle(lambda: proxy.enabled)
    assert calls == 2
