"""The demo services pass the served request's trace context on to their dependency: every
attempt, retries included, carries the client's W3C trace id (under a parent id of its own)
and its X-Request-Id. A recording server stands in for data and answers 503 to the first
attempts, so the resilient variant retries."""

from __future__ import annotations

import os
import re
from collections import defaultdict
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from faultlab.demo.budget import INVENTORY_TO_DATA
from faultlab.demo.caller import ResilienceConfig
from faultlab.demo.dependency import TraceContext, Variant
from faultlab.demo.services import data, inventory

from .helpers import client, start_system
from .procs import ProcessGroup

NAIVE, RESILIENT = Variant.NAIVE, Variant.RESILIENT
TRACEPARENT = re.compile(r"00-([0-9a-f]{32})-([0-9a-f]{16})-01")

# Generous per-attempt time, so that only the recorder's 503s cause the retries here,
# however busy the machine (the budget's own timing is tested in virtual time).
PATIENT = ResilienceConfig(attempt_timeout=10.0, deadline=30.0, retry=INVENTORY_TO_DATA.retry,
                           breaker=INVENTORY_TO_DATA.breaker, bulkhead_limit=8)


@dataclass
class Attempt:
    traceparent: str | None
    tracestate: str | None
    request_id: str | None

    @property
    def ids(self) -> tuple[str, str]:
        assert self.traceparent is not None
        match = TRACEPARENT.fullmatch(self.traceparent)
        assert match is not None, self.traceparent
        return match[1], match[2]


@dataclass
class Recorder:
    """Stands in for data: keeps each attempt's headers by item id, and answers 503 to the
    first ``failures`` attempts of each id, then the item."""

    failures: int
    attempts: dict[str, list[Attempt]] = field(default_factory=lambda: defaultdict(list))

    def app(self) -> web.Application:
        async def item(request: web.Request) -> web.Response:
            item_id = request.match_info["id"]
            seen = self.attempts[item_id]
            seen.append(Attempt(request.headers.get("traceparent"),
                                request.headers.get("tracestate"),
                                request.headers.get("X-Request-Id")))
            if len(seen) <= self.failures:
                return web.json_response({"error": "not now"}, status=503)
            return web.json_response(data.item_for(item_id))

        app = web.Application()
        app.router.add_get("/item/{id}", item)
        return app


@asynccontextmanager
async def serving(app: web.Application) -> AsyncIterator[str]:
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    try:
        yield str(server.make_url("")).rstrip("/")
    finally:
        await server.close()


async def status(session: aiohttp.ClientSession, target: str,
                 headers: Mapping[str, str] | None = None) -> int:
    async with session.get(target, headers=headers) as response:
        await response.read()
        return response.status


def traceparent() -> tuple[str, str]:
    """A fresh (traceparent, trace id) as a client would send it."""
    trace_id = os.urandom(16).hex()
    return f"00-{trace_id}-{os.urandom(8).hex()}-01", trace_id


# ------------------------------------------------------------------------------ the value


def test_a_valid_traceparent_is_passed_on_under_a_new_parent_id_each_attempt() -> None:
    sent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
    context = TraceContext.of({"traceparent": sent, "tracestate": "congo=t61rcWkgMzE",
                               "X-Request-Id": "r-1"})
    first, second = context.headers(), context.headers()
    for headers in (first, second):
        assert headers["traceparent"].startswith("00-0af7651916cd43dd8448eb211c80319c-")
        assert headers["traceparent"].endswith("-01")
        assert (headers["tracestate"], headers["X-Request-Id"]) == ("congo=t61rcWkgMzE", "r-1")
    parents = {h["traceparent"].split("-")[2] for h in (first, second)}
    assert len(parents) == 2 and "b7ad6b7169203331" not in parents


@pytest.mark.parametrize("value", [
    "00-0AF7651916CD43DD8448EB211C80319C-b7ad6b7169203331-01",  # upper case
    "00-00000000000000000000000000000000-b7ad6b7169203331-01",  # zero trace id
    "00-0af7651916cd43dd8448eb211c80319c-0000000000000000-01",  # zero parent id
    "ff-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",  # the forbidden version
    "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01-x",  # 00 has four fields
    "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331",
    "",
])
def test_an_invalid_traceparent_is_not_passed_on(value: str) -> None:
    context = TraceContext.of({"traceparent": value, "tracestate": "a=b", "X-Request-Id": "r"})
    assert context.headers() == {"X-Request-Id": "r"}


def test_a_later_version_is_read_and_passed_on_as_version_00() -> None:
    context = TraceContext.of(
        {"traceparent": "cc-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01-what"})
    assert re.fullmatch(r"00-0af7651916cd43dd8448eb211c80319c-[0-9a-f]{16}-01",
                        context.headers()["traceparent"])


def test_nothing_to_pass_on_sends_nothing() -> None:
    assert TraceContext.of({}).headers() == {} == TraceContext().headers()


# ------------------------------------------------------------------------- in-process


@pytest.mark.parametrize(("variant", "attempts"), [(RESILIENT, 3), (NAIVE, 1)])
async def test_every_attempt_of_inventory_carries_the_trace_id(variant: Variant,
                                                               attempts: int) -> None:
    recorder = Recorder(failures=2)  # the resilient variant's third and last attempt succeeds
    sent, trace_id = traceparent()
    async with (
        serving(recorder.app()) as data_url,
        serving(inventory.make_app(data_url, variant, PATIENT)) as inv_url,
        client() as session,
    ):
        answer = await status(session, f"{inv_url}/stock/a",
                              {"traceparent": sent, "X-Request-Id": "req-a"})
        untraced = await status(session, f"{inv_url}/stock/b")
    assert answer == (200 if variant is RESILIENT else 502)
    seen = recorder.attempts["a"]
    assert len(seen) == attempts
    assert {a.ids[0] for a in seen} == {trace_id}
    assert len({a.ids[1] for a in seen} | {sent.split("-")[2]}) == attempts + 1
    assert {a.request_id for a in seen} == {"req-a"}
    assert untraced in (200, 502)
    assert {(a.traceparent, a.request_id) for a in recorder.attempts["b"]} == {(None, None)}


# ------------------------------------------------------------------ the real processes


@pytest.mark.slow
@pytest.mark.parametrize("variant", [NAIVE, RESILIENT])
async def test_a_request_to_storefront_reaches_data_with_its_trace_id(
        processes: ProcessGroup, variant: Variant) -> None:
    """storefront -> inventory -> the recorder, as processes. Each id's first attempt gets a
    503; the resilient inventory retries it (unless its budget ran out first, as it may on
    a busy machine: then the next request, with a new id and trace id, tries again)."""
    recorder = Recorder(failures=1)
    async with serving(recorder.app()) as data_url, client() as session:
        system = start_system(processes, (variant,), data_route=lambda _port: data_url)
        front = system.storefront[variant].url
        retried = False
        for n in range(20):
            sent, trace_id = traceparent()
            page = await status(session, f"{front}/product/t{n}",
                                {"traceparent": sent, "X-Request-Id": f"req-{n}"})
            assert page in (200, 502)
            seen = recorder.attempts[f"t{n}"]
            assert seen, "no attempt reached data"
            assert {a.ids[0] for a in seen} == {trace_id}
            assert {a.request_id for a in seen} == {f"req-{n}"}
            assert sent.split("-")[2] not in {a.ids[1] for a in seen}
            retried = len(seen) >= 2
            if variant is NAIVE:
                assert len(seen) == 1
                break
            if retried:
                break
        assert retried or variant is NAIVE
