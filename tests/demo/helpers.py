"""Build the demo system out of real processes, and time requests against it."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import aiohttp

from faultlab.demo.dependency import Variant

from .procs import PortTaken, ProcessGroup, Service, free_ports, service_argv, url

BOTH = (Variant.NAIVE, Variant.RESILIENT)

#: Given a service's port, the base URL its callers should use (direct, or via a proxy).
Route = Callable[[int], str]


@dataclass
class DemoSystem:
    data: Service
    inventory: dict[Variant, Service]
    storefront: dict[Variant, Service]


def start_system(
    group: ProcessGroup,
    variants: Sequence[Variant] = BOTH,
    data_route: Route = url,
    inventory_route: Route = url,
) -> DemoSystem:
    """One data process, and an inventory + storefront pair per variant, all started at once.
    The routes say how inventories reach data and storefronts reach inventory."""
    for _ in range(5):
        ports = free_ports(1 + 2 * len(variants))
        data_url = data_route(ports[0])
        specs = [("data", service_argv("data", ports[0]))]
        for i, variant in enumerate(variants):
            inv_port, front_port = ports[1 + 2 * i], ports[2 + 2 * i]
            common = ["--variant", variant.value]
            inv = service_argv("inventory", inv_port, "--data-url", data_url, *common)
            front = service_argv(
                "storefront", front_port, "--inventory-url", inventory_route(inv_port), *common
            )
            specs += [(f"inventory-{variant.value}", inv), (f"storefront-{variant.value}", front)]
        try:
            data, *tiers = group.launch(specs)
        except PortTaken:
            group.stop_all()
            continue
        return DemoSystem(
            data=data,
            inventory={v: tiers[2 * i] for i, v in enumerate(variants)},
            storefront={v: tiers[2 * i + 1] for i, v in enumerate(variants)},
        )
    raise RuntimeError("could not find free ports for the demo system in 5 tries")


@dataclass(frozen=True)
class Timed:
    status: int
    body: dict[str, object]
    elapsed: float


async def get(session: aiohttp.ClientSession, target: str) -> Timed:
    """GET ``target``; the elapsed time includes reading the whole body."""
    start = time.monotonic()
    async with session.get(target) as response:
        raw = await response.read()
        status = response.status
    elapsed = time.monotonic() - start
    try:
        body = json.loads(raw)
    except ValueError:
        body = {"text": raw.decode(errors="replace")}
    return Timed(status, body if isinstance(body, dict) else {"json": body}, elapsed)


def client() -> aiohttp.ClientSession:
    """A test client with a generous cap, so a hung service fails the test instead of CI."""
    return aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10))
