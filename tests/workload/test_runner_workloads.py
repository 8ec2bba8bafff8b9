"""Several workloads in one experiment, through the Runner, against real local servers.

A storefront (HTTP, answers 503 while a flag file exists), an API (HTTP, always fine) and
a store (faultlab's demo KV service, driven by a history workload), each its own server on
loopback in this process. A ``command`` fault creates the flag file for 2 s. Each SLO
names its workload; the verdict, the clauses, result.json and the journal must keep the
workloads apart. Outcomes are asserted, never timings: a 503 is a 503 however slow the
machine is.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from faultlab.clock import MonotonicClock
from faultlab.demo.services.kv import make_app
from faultlab.experiment import load_experiment_text
from faultlab.run.outputs import result_document
from faultlab.run.runner import Runner
from faultlab.run.verdict import Status

pytestmark = pytest.mark.slow


async def _serve(app: web.Application) -> AsyncIterator[str]:
    runner = web.AppRunner(app, shutdown_timeout=0.5)
    await runner.setup()
    try:
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        yield f"127.0.0.1:{runner.addresses[0][1]}"
    finally:
        await runner.cleanup()


@pytest.fixture
async def shop(tmp_path: Path) -> AsyncIterator[tuple[str, Path]]:
    flag = tmp_path / "outage"

    async def buy(request: web.Request) -> web.Response:
        return web.Response(status=503 if flag.exists() else 200, text="x")

    app = web.Application()
    app.router.add_get("/buy", buy)
    async for address in _serve(app):
        yield address, flag


@pytest.fixture
async def api() -> AsyncIterator[str]:
    async def ping(request: web.Request) -> web.Response:
        return web.Response(text="pong")

    app = web.Application()
    app.router.add_get("/ping", ping)
    async for address in _serve(app):
        yield address


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[str]:
    async for address in _serve(make_app(tmp_path / "kv.data")):
        yield address


EXPERIMENT = """
name: several
warmup: 500ms
workloads:
  shop: {{kind: http, url: "http://{shop}/buy", rate: 40/s, timeout: 1s}}
  api: {{kind: http, url: "http://{api}/ping", rate: 20/s, timeout: 1s}}
  store: {{kind: history, client: kv-http, address: "{store}", model: register,
          rate: 20/s, processes: 3, keys: 2}}
slos:
  - {{name: shop-served, workload: shop, success_ratio: 95%, window: 1s}}
  - {{name: api-served, workload: api, success_ratio: 95%, window: 1s}}
hypothesis:
  before: {{hold: [shop-served, api-served], for: 2s}}
  during: {{hold: [shop-served, api-served]}}
  after: {{hold: [shop-served, api-served], recover_within: 3s}}
faults:
  - {{name: outage, kind: command, inject: [touch, "{flag}"], revert: [rm, -f, "{flag}"],
     duration: 2s}}
revert: {{lease_grace: 2s}}
"""


async def test_two_http_workloads_and_a_history_each_judged_on_its_own(
        tmp_path: Path, shop: tuple[str, Path], api: str, store: str) -> None:
    shop_address, flag = shop
    loaded = load_experiment_text(EXPERIMENT.format(
        shop=shop_address, api=api, store=store, flag=flag), "several.yaml")
    run_dir = tmp_path / "run"
    runner = Runner(loaded, run_dir, MonotonicClock(), seed=11, argv=["test"])
    verdict = await runner.run()

    assert verdict.status is Status.VIOLATED, verdict.reasons
    assert not flag.exists()
    held = {(c.name, c.workload): c.held for c in verdict.clauses}
    assert held == {("before: shop-served", "shop"): True,
                    ("before: api-served", "api"): True,
                    ("during: shop-served", "shop"): False,  # the outage is the shop's
                    ("during: api-served", "api"): True,
                    ("after: shop-served", "shop"): True,
                    ("after: api-served", "api"): True}
    during = next(c for c in verdict.clauses if c.name == "during: shop-served")
    assert during.measured is not None and during.measured < 0.5

    # result.json: one entry per workload, the old fields for the primary ones
    doc = result_document(verdict, loaded, run_dir, runner.seed, ["test"])
    assert set(doc["workloads"]) == {"shop", "api", "store"}
    shop_w, api_w, store_w = (doc["workloads"][n] for n in ("shop", "api", "store"))
    assert (shop_w["kind"], shop_w["measured"], store_w["measured"]) == ("http", True, False)
    assert shop_w["totals"]["failed"] > 0 and api_w["totals"]["failed"] == 0
    assert api_w["totals"]["ok"] == api_w["totals"]["planned"] > 0
    assert store_w["totals"] is None
    assert store_w["history"]["file"] == "history-store.jsonl"
    assert store_w["history"]["ok"] > 0
    assert shop_w["generator"]["warmup"]["sent"] > 0  # driven before second 0...
    assert doc["workload"] == shop_w["totals"]  # ...and the first measured one stays
    assert doc["generator"] == shop_w["generator"]
    assert doc["history"] == store_w["history"]
    assert doc["clauses"][0]["workload"] == "shop"

    # the history was recorded and judged: a correct store passes its checks
    assert (run_dir / "history-store.jsonl").stat().st_size > 0
    assert verdict.checks and all(c.passed for c in verdict.checks), verdict.checks

    # every second is journaled under its workload, from second 0 (the warm-up apart)
    events = [json.loads(line) for line in (run_dir / "journal.jsonl").read_text().splitlines()]
    seconds: dict[str, list[Any]] = {}
    for e in events:
        if e["event"] == "second":
            seconds.setdefault(e["workload"], []).append(e["second"])
    assert set(seconds) == {"shop", "api"}
    for name, indexes in seconds.items():
        assert indexes == list(range(len(indexes))), name
        journaled = sum(e["sent"] + e["dropped"] for e in events
                        if e["event"] == "second" and e["workload"] == name)
        assert journaled == doc["workloads"][name]["totals"]["planned"]
