"""A minimal open-loop load generator for the demo's SLO tests.

Requests start on a fixed schedule whatever earlier responses do, and latency is measured
from the *intended* start, so a stalled service shows up as latency instead of as fewer
requests (no coordinated omission). faultlab's own workload package does this properly; the
demo tests keep their own dozen lines so they test the demo and nothing else.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass

import aiohttp


@dataclass(frozen=True)
class Sample:
    at: float  # intended start, seconds after the run began
    latency: float
    ok: bool


async def open_loop(
    session: aiohttp.ClientSession, target: Callable[[int], str], rate: float, duration: float
) -> list[Sample]:
    """Send ``rate`` GETs per second for ``duration`` seconds; 200 is success."""
    start = time.monotonic()

    async def one(i: int) -> Sample:
        intended = start + i / rate
        await asyncio.sleep(max(0.0, intended - time.monotonic()))
        try:
            async with session.get(target(i)) as response:
                await response.read()
                ok = response.status == 200
        except (aiohttp.ClientError, TimeoutError):
            ok = False
        return Sample(intended - start, time.monotonic() - intended, ok)

    return list(await asyncio.gather(*(one(i) for i in range(int(rate * duration)))))


def p99(samples: list[Sample]) -> float:
    latencies = sorted(s.latency for s in samples)
    return latencies[min(len(latencies) - 1, int(0.99 * len(latencies)))]


def success_ratio(samples: list[Sample]) -> float:
    return sum(s.ok for s in samples) / len(samples)


def describe(samples: list[Sample]) -> str:
    """One line for assertion messages: what a reader needs to see why an SLO check failed."""
    return f"n={len(samples)} p99={p99(samples) * 1000:.0f}ms success={success_ratio(samples):.1%}"
