"""The proxy server joins its callers' traces: a real proxy server process with OTEL_* in
its environment, a real upstream, real HTTP clients sending W3C traceparents, and the
spans as a real OTLP/HTTP receiver decodes them."""

from __future__ import annotations

import asyncio
import json
import secrets
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from faultlab.ports import free_ports
from faultlab.proxy.client import ProxyClient
from faultlab.proxy.process import ProxyServerHandle, spawn_proxy_server

from .conftest import Receiver, otel_env


@pytest.fixture
async def upstream() -> AsyncIterator[str]:
    async def answer(request: web.Request) -> web.Response:
        return web.Response(text="from upstream")

    app = web.Application()
    app.router.add_get("/{tail:.*}", answer)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    try:
        yield f"127.0.0.1:{runner.addresses[0][1]}"
    finally:
        await runner.cleanup()


def traceparent() -> tuple[str, str, str]:
    trace_id, span_id = secrets.token_hex(16), secrets.token_hex(8)
    return f"00-{trace_id}-{span_id}-01", trace_id, span_id


async def get(url: str, header: str | None) -> int:
    headers = {} if header is None else {"traceparent": header}
    async with aiohttp.ClientSession() as session, session.get(
            url, headers=headers, timeout=aiohttp.ClientTimeout(total=10)) as response:
        await response.read()
        return response.status


async def spawn(tmp_path: Path, endpoint: str) -> ProxyServerHandle:
    return await spawn_proxy_server(tmp_path / "proxy.log", env=otel_env(endpoint))


def log_events(path: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


async def test_a_faulted_request_with_a_traceparent_is_a_span_under_its_caller(
        tmp_path: Path, receiver: Receiver, upstream: str) -> None:
    (listen,) = free_ports(1)
    server = await spawn(tmp_path, receiver.url)
    try:
        async with ProxyClient(server.api_url) as client:
            await client.create_proxy("api", f"127.0.0.1:{listen}", upstream)
            attributes: dict[str, Any] = {"status": 503, "path_prefix": "/fail"}
            await client.add_toxic("api", "http_abort", attributes, stream="upstream",
                                   name="abort-fail")
            aborted, aborted_trace, aborted_parent = traceparent()
            assert await get(f"http://127.0.0.1:{listen}/fail", aborted) == 503
            passed, _, _ = traceparent()
            assert await get(f"http://127.0.0.1:{listen}/ok", passed) == 200  # not faulted
            assert await get(f"http://127.0.0.1:{listen}/fail", None) == 503  # untraced
            await client.remove_toxic("api", "abort-fail")
            await client.add_toxic("api", "latency", {"latency": 30}, name="slow")
            delayed, delayed_trace, delayed_parent = traceparent()
            assert await get(f"http://127.0.0.1:{listen}/ok", delayed) == 200
    finally:
        assert await server.stop(timeout=30) == 0  # its spans are flushed as it stops
    # one span each: not the request that passed, not the untraced one
    assert sorted(s.name for s in receiver.spans) == ["faultlab.inject http_abort",
                                                      "faultlab.inject latency"]
    abort = receiver.one("faultlab.inject http_abort")
    assert (abort.trace_id, abort.parent_span_id) == (aborted_trace, aborted_parent)
    assert abort.attributes["faultlab.toxic.kind"] == "http_abort"
    assert abort.attributes["faultlab.toxic.name"] == "abort-fail"
    assert abort.attributes["faultlab.toxic.status"] == 503
    assert abort.attributes["faultlab.toxic.path_prefix"] == "/fail"
    assert abort.attributes["faultlab.proxy.name"] == "api"
    assert abort.attributes["url.path"] == "/fail"
    assert abort.attributes["http.response.status_code"] == 503
    assert abort.attributes["faultlab.request.outcome"] == "injected"
    assert abort.error and abort.status_message == "injected 503"
    assert abort.resource["service.name"] == "faultlab-proxy"
    assert abort.end_ns >= abort.start_ns > 0
    slow = receiver.one("faultlab.inject latency")
    assert (slow.trace_id, slow.parent_span_id) == (delayed_trace, delayed_parent)
    assert slow.attributes["faultlab.toxic.latency"] == 30
    assert slow.attributes["faultlab.request.outcome"] == "response"
    assert slow.attributes["http.response.status_code"] == 200
    assert not slow.error
    events = [e["event"] for e in log_events(tmp_path / "proxy.log")]
    assert "tracing" in events and "telemetry_warning" not in events


async def test_a_collector_that_is_gone_is_one_line_in_the_proxy_log(
        tmp_path: Path, upstream: str) -> None:
    (listen, dead) = free_ports(2)  # nothing listens on `dead`
    server = await spawn(tmp_path, f"http://127.0.0.1:{dead}")
    try:
        async with ProxyClient(server.api_url) as client:
            await client.create_proxy("api", f"127.0.0.1:{listen}", upstream)
            await client.add_toxic("api", "http_abort", {"status": 502}, stream="upstream")
            for _ in range(3):
                header, _, _ = traceparent()
                assert await get(f"http://127.0.0.1:{listen}/", header) == 502
    finally:
        assert await server.stop(timeout=30) == 0
    warnings = [e for e in log_events(tmp_path / "proxy.log")
                if e["event"] == "telemetry_warning"]
    assert len(warnings) == 1
    assert f"127.0.0.1:{dead}" in str(warnings[0]["error"])
    assert "connection refused" in str(warnings[0]["error"])


async def test_without_otel_the_proxy_frames_nothing_it_need_not(
        tmp_path: Path, receiver: Receiver, upstream: str) -> None:
    """OTEL unset: no tracing line, no span, even for a traced request a toxic answered."""
    (listen,) = free_ports(1)
    server = await spawn_proxy_server(tmp_path / "proxy.log", env=otel_env(None))
    try:
        async with ProxyClient(server.api_url) as client:
            await client.create_proxy("api", f"127.0.0.1:{listen}", upstream)
            await client.add_toxic("api", "http_abort", {"status": 503}, stream="upstream")
            header, _, _ = traceparent()
            assert await get(f"http://127.0.0.1:{listen}/", header) == 503
    finally:
        assert await server.stop(timeout=30) == 0
    await asyncio.sleep(0)
    assert receiver.posts == 0
    assert "tracing" not in [e["event"] for e in log_events(tmp_path / "proxy.log")]
