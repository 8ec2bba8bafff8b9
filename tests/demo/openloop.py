"""A minimal open-loop load generator for the demo's SLO tests.

Requests start on a fixed schedule whatever earlier responses do, and latency is measured
from the *intended* start, so a stalled service shows up as latency instead of as fewer
requests (no coordinated omission). faultlab's own workload package does this properly; the
demo tests keep their own dozen lines so they test the demo and nothing else.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import Callable
from dataclasses import dataclass

import aiohttp


@dataclass(frozen=True)
class Sample:
    at: float  # intended start, seconds after the run began
    latency: float
    ok: bool
    degraded: bool | None = None  # the page's "degraded" flag, when a page came back


async def open_loop(
    session: aiohttp.ClientSession,
    target: Callable[[int], str],
    rate: float,
    duration: float,
    start: float | None = None,
) -> list[Sample]:
    """Send ``rate`` GETs per second for ``duration`` seconds from ``start`` (a
    ``time.monotonic()`` value, default now); 200 is success."""
    t0 = time.monotonic() if start is None else start

    async def one(i: int) -> Sample:
        intended = t0 + i / rate
        await asyncio.sleep(max(0.0, intended - time.monotonic()))
        degraded = None
        try:
            async with session.get(target(i)) as response:
                raw = await response.read()
                ok = response.status == 200
        except (aiohttp.ClientError, TimeoutError):
            ok = False
        latency = time.monotonic() - intended
        if ok:
            with contextlib.suppress(ValueError, AttributeError):
                degraded = json.loads(raw).get("degraded")
        return Sample(intended - t0, latency, ok, degraded)

    return list(await asyncio.gather(*(one(i) for i in range(int(rate * duration)))))


def quantile(samples: list[Sample], q: float) -> float:
    latencies = sorted(s.latency for s in samples)
    return latencies[min(len(latencies) - 1, int(q * len(latencies)))]


def p99(samples: list[Sample]) -> float:
    return quantile(samples, 0.99)


def median(samples: list[Sample]) -> float:
    return quantile(samples, 0.5)


def degraded_ratio(samples: list[Sample]) -> float:
    """Of the pages that came back, the share marked degraded."""
    pages = [s for s in samples if s.ok]
    return sum(s.degraded is True for s in pages) / max(1, len(pages))


def success_ratio(samples: list[Sample]) -> float:
    return sum(s.ok for s in samples) / len(samples)


def describe(samples: list[Sample]) -> str:
    """One line for assertion messages: what a reader needs to see why an SLO check failed."""
    return (
        f"n={len(samples)} p50={median(samples) * 1000:.0f}ms p99={p99(samples) * 1000:.0f}ms "
        f"success={success_ratio(samples):.1%} degraded={degraded_ratio(samples):.1%}"
    )
