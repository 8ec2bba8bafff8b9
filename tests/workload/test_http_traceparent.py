"""``traceparent: true``: every request of an http load carries its own W3C traceparent
(a real aiohttp server records what arrives); off by default, none is sent."""

from __future__ import annotations

import random
import re
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp import web

from faultlab.clock import ManualClock
from faultlab.experiment import ExperimentError, load_experiment_text
from faultlab.journal import Redactor
from faultlab.workload.base import WorkloadContext
from faultlab.workload.http import HttpRequestSpec, new_traceparent
from faultlab.workload.kinds import RunningHttpLoad
from faultlab.workload.spec import WORKLOAD_KINDS, HttpWorkload

from .http_support import assert_accounted, run_load

TRACEPARENT = re.compile(r"00-(?!0{32})[0-9a-f]{32}-(?!0{16})[0-9a-f]{16}-01")


@pytest.fixture
async def recording() -> AsyncIterator[tuple[str, list[str | None]]]:
    """A server that answers 200 and keeps each request's traceparent (None: absent)."""
    seen: list[str | None] = []

    async def handle(request: web.Request) -> web.Response:
        seen.append(request.headers.get("traceparent"))
        return web.Response(text="ok")

    app = web.Application()
    app.add_routes([web.get("/", handle)])
    runner = web.AppRunner(app)
    await runner.setup()
    try:
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        yield f"http://127.0.0.1:{runner.addresses[0][1]}/", seen
    finally:
        await runner.cleanup()


async def test_every_request_carries_its_own_valid_traceparent(
        recording: tuple[str, list[str | None]]) -> None:
    url, seen = recording
    spec = HttpRequestSpec(url, headers=(("X-Other", "kept"),), traceparent=True)
    summary, recorder, agg = await run_load(spec, 100.0, 0.3)
    assert_accounted(summary, recorder, agg)
    assert agg.ok == summary.sent == len(seen) == 30
    assert all(isinstance(h, str) and TRACEPARENT.fullmatch(h) for h in seen), seen
    headers = [h for h in seen if h is not None]
    assert len({h.split("-")[1] for h in headers}) == len(headers)  # distinct trace ids
    assert len({h.split("-")[2] for h in headers}) == len(headers)


async def test_off_by_default_no_traceparent_is_sent(
        recording: tuple[str, list[str | None]]) -> None:
    url, seen = recording
    summary, _, agg = await run_load(HttpRequestSpec(url), 100.0, 0.1)
    assert agg.ok == summary.sent == len(seen) == 10
    assert seen == [None] * 10


def test_the_experiment_option_reaches_the_request(tmp_path: Path) -> None:
    ctx = WorkloadContext(ManualClock(), tmp_path, 5, random.Random(5), Redactor())
    spec = HttpWorkload.model_validate({"url": "http://127.0.0.1:1/", "rate": "5/s",
                                        "traceparent": True})
    load = WORKLOAD_KINDS["http"].build("shop", spec, ctx)
    assert isinstance(load, RunningHttpLoad) and load.request.traceparent
    default = HttpWorkload.model_validate({"url": "http://127.0.0.1:1/", "rate": "5/s"})
    assert not default.traceparent


def test_a_traceparent_header_and_the_option_are_refused_together() -> None:
    text = """
version: 1
name: t
workload:
  http: {url: "http://127.0.0.1:1/", rate: 5/s, traceparent: true,
         headers: {Traceparent: "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"}}
"""
    with pytest.raises(ExperimentError, match="the load makes a fresh one per request"):
        load_experiment_text(text, "t.yaml")
    with pytest.raises(ValueError, match="exclude each other"):
        HttpRequestSpec("http://h/", headers=(("traceparent", "x"),), traceparent=True)


def test_new_traceparent_is_never_all_zeros() -> None:
    class Zeros(random.Random):
        """Draws all zeros twice, then what a generator seeded with 1 draws."""

        def __init__(self) -> None:
            super().__init__(1)
            self.left = 2

        def randbytes(self, n: int) -> bytes:
            if self.left:
                self.left -= 1
                return bytes(n)
            return super().randbytes(n)

    value = new_traceparent(Zeros())
    assert TRACEPARENT.fullmatch(value)
    assert value == new_traceparent(random.Random(1))
