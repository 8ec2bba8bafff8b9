"""The demo's three scenarios against real processes: naive must break, resilient must hold.

What is asserted is what the answers say (live, cached, fallback, an error) and timing only
against what the test controls: the 800 ms the slow proxy adds is a lower bound on every
answer that waited for data, and the resilient answers, which do not wait, all come back
before the first naive one. No absolute upper bound: a busy machine may be slow, and the
resilient variant's own bounds are its budget's, checked in virtual time in
``test_demo_budget.py``.
"""

from __future__ import annotations

import asyncio
import time

import aiohttp
import pytest

from faultlab.demo.dependency import Variant
from faultlab.demo.services.data import item_for

from .helpers import DemoSystem, Timed, client, get, start_system
from .procs import ProcessGroup
from .slowproxy import SLOW_DATA_DELAY, Proxies

pytestmark = pytest.mark.slow

NAIVE, RESILIENT = Variant.NAIVE, Variant.RESILIENT


def in_stock(item_id: str) -> bool:
    stock = item_for(item_id)["stock"]
    assert isinstance(stock, int)
    return stock > 0


async def test_healthy_system_serves_live_pages_in_both_variants(system: DemoSystem) -> None:
    async with client() as session:
        for variant in (NAIVE, RESILIENT):
            page = await get(session, f"{system.storefront[variant].url}/product/p-17")
            assert page.status == 200
            assert page.body == {
                "id": "p-17",
                "name": "Product p-17",
                "in_stock": in_stock("p-17"),
                "degraded": False,
            }
            stock = await get(session, f"{system.inventory[variant].url}/stock/p-17")
            assert stock.body == {
                "id": "p-17",
                "stock": item_for("p-17")["stock"],
                "source": "live",
            }
        for service in (system.data, *system.inventory.values(), *system.storefront.values()):
            health = await get(session, f"{service.url}/health")
            assert (health.status, health.body["status"]) == (200, "ok")
        missing = await get(session, f"{system.storefront[RESILIENT].url}/product/no%20spaces")
        assert missing.status == 404


async def test_data_down_resilient_serves_cached_or_degraded_pages_naive_fails(
    system: DemoSystem,
) -> None:
    async with client() as session:
        for variant in (NAIVE, RESILIENT):  # let the resilient inventory cache "warm"
            assert (
                await get(session, f"{system.storefront[variant].url}/product/warm")
            ).status == 200
        system.data.kill()

        front = system.storefront[RESILIENT].url
        warm = await get(session, f"{front}/product/warm")
        assert warm.status == 200
        assert warm.body["degraded"] is True
        assert warm.body["in_stock"] is in_stock("warm")  # from inventory's cache
        cached = await get(session, f"{system.inventory[RESILIENT].url}/stock/warm")
        assert cached.body["source"] == "cache"

        pages = [await get(session, f"{front}/product/cold-{i}") for i in range(20)]
        assert all(p.status == 200 for p in pages)
        assert all(p.body["degraded"] is True and p.body["in_stock"] is None for p in pages)

        naive = await get(session, f"{system.storefront[NAIVE].url}/product/warm")
        assert naive.status == 502
        naive_inv = await get(session, f"{system.inventory[NAIVE].url}/stock/warm")
        assert naive_inv.status == 502


async def test_inventory_killed_then_restarted(system: DemoSystem, processes: ProcessGroup) -> None:
    async with client() as session:
        for variant in (NAIVE, RESILIENT):
            system.inventory[variant].kill()

        front = system.storefront[RESILIENT].url
        pages = [await get(session, f"{front}/product/k{i}") for i in range(20)]
        assert all(p.status == 200 for p in pages)
        assert all(p.body["in_stock"] is None and p.body["degraded"] is True for p in pages)
        naive = await get(session, f"{system.storefront[NAIVE].url}/product/k1")
        assert naive.status == 502

        for variant in (NAIVE, RESILIENT):
            system.inventory[variant] = processes.restart(system.inventory[variant])

        naive = await get(session, f"{system.storefront[NAIVE].url}/product/k1")
        assert (naive.status, naive.body["degraded"]) == (200, False)
        # The resilient storefront's breaker is open; its next probe (≤ 1 s) finds inventory.
        give_up = time.monotonic() + 5.0
        while True:
            page = await get(session, f"{front}/product/k1")
            assert page.status == 200
            if page.body["degraded"] is False or time.monotonic() > give_up:
                break
            await asyncio.sleep(0.05)
        assert page.body["degraded"] is False
        assert page.body["in_stock"] is in_stock("k1")


async def test_slow_data_resilient_meets_its_deadline_naive_waits(
    slow_data_system: DemoSystem,
) -> None:
    system = slow_data_system
    finished: list[Variant] = []

    async def page(session: aiohttp.ClientSession, variant: Variant, i: int) -> Timed:
        answer = await get(session, f"{system.storefront[variant].url}/product/s{i}")
        finished.append(variant)
        return answer

    async with client() as session:
        resilient, naive = await asyncio.gather(
            asyncio.gather(*(page(session, RESILIENT, i) for i in range(10))),
            asyncio.gather(*(page(session, NAIVE, i) for i in range(3))),
        )
    assert all(p.status == 200 and p.body["degraded"] is True for p in resilient)
    assert all(p.status == 200 and p.body["degraded"] is False for p in naive)
    assert min(p.elapsed for p in naive) >= SLOW_DATA_DELAY  # naive waited for data
    assert finished == [RESILIENT] * 10 + [NAIVE] * 3  # resilient did not


async def test_open_breaker_stops_calling_slow_data(
    processes: ProcessGroup, proxies: Proxies
) -> None:
    """Without a breaker, 30 requests would make ≥ 60 timed-out attempts on data, each on a
    fresh connection (a timed-out one is closed). With it, the breaker opens after 5 and
    later calls fail fast, apart from about one probe a second."""
    route = proxies.route(SLOW_DATA_DELAY)
    system = start_system(processes, variants=(RESILIENT,), data_route=route)
    start = time.monotonic()
    async with client() as session:
        for i in range(30):
            stock = await get(session, f"{system.inventory[RESILIENT].url}/stock/b{i}")
            assert (stock.status, stock.body["source"]) == (200, "fallback")
    probes_possible = int(time.monotonic() - start) + 1
    assert proxies.started[-1].connections <= 5 + 2 * probes_possible
