"""Fixtures for the workload tests."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from aiohttp import web

from .http_support import Server


@pytest.fixture
async def server() -> AsyncIterator[Server]:
    srv = Server(url="")

    async def status(request: web.Request) -> web.Response:
        code = int(request.match_info["code"])
        # A followed redirect would end on a 500: catches a generator that follows redirects.
        headers = {"Location": "/status/500"} if 300 <= code < 400 else None
        return web.Response(status=code, text="x", headers=headers)

    async def sleep(request: web.Request) -> web.Response:
        srv.in_flight += 1
        srv.peak_in_flight = max(srv.peak_in_flight, srv.in_flight)
        if srv.in_flight >= srv.busy_at:
            srv.busy.set()
        try:
            await asyncio.sleep(float(request.match_info["seconds"]))
        finally:
            srv.in_flight -= 1
        return web.Response(text="slept")

    async def stall(request: web.Request) -> web.Response:
        # Every request that arrives during the stall window waits for its end (a GC pause,
        # a failover): the server is unresponsive, not slow per request.
        now = asyncio.get_running_loop().time()
        end = srv.stall_from + srv.stall_for
        if srv.stall_from <= now < end:
            await asyncio.sleep(end - now)
        return web.Response(text="ok")

    async def slow_body(request: web.Request) -> web.StreamResponse:
        resp = web.StreamResponse()
        resp.content_length = 4
        await resp.prepare(request)
        await resp.write(b"he")
        await asyncio.sleep(0.3)
        await resp.write(b"ad")
        return resp

    async def echo(request: web.Request) -> web.Response:
        body = await request.read()
        srv.received.append((request.method, request.headers.get("X-Test", ""), body))
        return web.Response(status=201, text="created")

    app = web.Application()
    app.add_routes(
        [
            web.get("/status/{code}", status),
            web.get("/sleep/{seconds}", sleep),
            web.get("/stall", stall),
            web.get("/slow-body", slow_body),
            web.route("*", "/echo", echo),
        ]
    )
    runner = web.AppRunner(app, handler_cancellation=True, shutdown_timeout=0.5)
    await runner.setup()
    try:
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = runner.addresses[0][1]
        srv.url = f"http://127.0.0.1:{port}"
        yield srv
    finally:
        await runner.cleanup()
