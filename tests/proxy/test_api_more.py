"""/populate (all or nothing), /metrics, /openapi.json, the API token, and the new toxics'
API rules."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from faultlab.proxy.events import EventLog
from faultlab.proxy.server import ProxyServer, is_loopback

from .helpers import Conn, TcpServer
from .test_api import Api


@pytest.fixture
async def api(server: ProxyServer) -> AsyncIterator[Api]:
    async with aiohttp.ClientSession() as session:
        yield Api(session, server.api_url)


def entry(name: str, upstream: str, listen: str = "127.0.0.1:0", **extra: Any) -> dict[str, Any]:
    return {"name": name, "listen": listen, "upstream": upstream, **extra}


async def test_populate_creates_keeps_and_replaces(api: Api, echo_server: TcpServer) -> None:
    status, content_type, body = await api.call("POST", "/populate", [
        entry("a", echo_server.address), entry("b", echo_server.address, enabled=False)])
    assert (status, content_type) == (201, "application/json")
    a = body["proxies"][0]
    assert [p["name"] for p in body["proxies"]] == ["a", "b"]
    await api.call("POST", "/proxies/a/toxics", {"type": "latency"})
    # Same resolved listen and upstream: untouched, toxics kept.
    status, _, body = await api.call("POST", "/populate", [
        entry("a", echo_server.address, listen=a["listen"])])
    assert status == 201
    assert [t["name"] for t in body["proxies"][0]["toxics"]] == ["latency_downstream"]
    # Another upstream on the same listen: replaced on the same port, toxics gone.
    status, _, body = await api.call("POST", "/populate", [
        entry("a", "127.0.0.1:9", listen=a["listen"])])
    assert status == 201
    assert (body["proxies"][0]["listen"], body["proxies"][0]["toxics"]) == (a["listen"], [])
    assert (await api.call("POST", "/populate", []))[::2] == (201, {"proxies": None})


async def test_populate_is_all_or_nothing(api: Api, echo_server: TcpServer) -> None:
    """Toxiproxy applies entries up to the failing one and leaves them applied."""
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        busy = f"127.0.0.1:{taken.getsockname()[1]}"
        status, content_type, body = await api.call("POST", "/populate", [
            entry("first", echo_server.address), entry("second", echo_server.address, busy)])
    assert (status, content_type) == (500, "application/json")
    assert "in use" in body["error"]
    assert (body["status"], body["proxies"]) == (500, [])
    assert (await api.call("GET", "/proxies"))[2] == {}
    # An invalid entry: 400, Toxiproxy's message with the entry number, nothing created.
    status, _, body = await api.call("POST", "/populate", [
        entry("ok", echo_server.address), {"upstream": echo_server.address}])
    assert (status, body["error"]) == (400, "missing required field: name at proxy 2")
    status, _, body = await api.call("POST", "/populate", {"name": "not an array"})
    assert status == 400
    assert (await api.call("GET", "/proxies"))[2] == {}


async def test_populate_failure_leaves_existing_proxies_serving(
        api: Api, echo_server: TcpServer, conns: list[Conn]) -> None:
    _, _, body = await api.call("POST", "/populate", [entry("keep", echo_server.address)])
    listen = body["proxies"][0]["listen"]
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        status, _, _ = await api.call("POST", "/populate", [
            entry("keep", "127.0.0.1:9", listen=listen),  # would replace it
            entry("new", echo_server.address, f"127.0.0.1:{taken.getsockname()[1]}")])
    assert status == 500
    _, _, keep = await api.call("GET", "/proxies/keep")
    assert (keep["upstream"], keep["enabled"]) == (echo_server.address, True)
    conn = await Conn.open(listen)
    conns.append(conn)
    assert (await conn.round_trip(b"still here"))[0] == b"still here"


async def test_metrics_are_live(api: Api, echo_server: TcpServer, conns: list[Conn]) -> None:
    _, _, proxy = await api.call("POST", "/proxies", entry("m", echo_server.address))
    await api.call("POST", "/proxies/m/toxics", {"type": "latency", "stream": "upstream"})
    conn = await Conn.open(proxy["listen"])
    conns.append(conn)
    await conn.round_trip(b"x" * 1000)
    async with api.session.get(api.url + "/metrics") as response:  # connection still open
        assert response.status == 200
        assert response.headers["Content-Type"].startswith("text/plain; version=0.0.4")
        text = await response.text()
    labels = f'listener="{proxy["listen"]}",proxy="m",upstream="{echo_server.address}"'
    assert f'toxiproxy_proxy_sent_bytes_total{{direction="upstream",{labels}}} 1000.0' in text
    assert (f'toxiproxy_proxy_received_bytes_total{{direction="downstream",{labels}}} 1000.0'
            in text)
    assert 'faultlab_proxy_connections_active{proxy="m"} 1.0' in text
    assert 'faultlab_proxy_connections_total{proxy="m"} 1.0' in text
    assert 'faultlab_proxy_toxics_active{proxy="m",stream="upstream",type="latency"} 1.0' in text
    assert ('faultlab_proxy_toxic_activations_total{proxy="m",toxic="latency_upstream",'
            'type="latency"} 1.0') in text


def test_openapi_describes_every_route(server: ProxyServer) -> None:
    from faultlab.proxy.api import build_app
    from faultlab.proxy.openapi import openapi_document

    document = openapi_document()
    app = build_app(server.registry)
    routed = {(r.method, r.resource.canonical) for r in app.router.routes()
              if r.resource is not None}
    described = {(method.upper(), path) for path, item in document["paths"].items()
                 for method in item if method != "parameters"}
    assert described <= routed
    assert {(m, p) for m, p in routed if m != "HEAD"} <= described
    bodies = document["components"]["schemas"]["ToxicCreate"]["oneOf"]
    assert {body["properties"]["type"]["const"] for body in bodies} \
        == {"noop", "latency", "bandwidth", "slow_close", "timeout", "reset_peer", "slicer",
            "limit_data", "http_abort", "http_delay", "connect_delay", "connect_refuse"}


async def test_openapi_is_served(api: Api) -> None:
    status, _, document = await api.call("GET", "/openapi.json")
    assert (status, document["openapi"]) == (200, "3.1.0")


async def test_token_is_required_when_set() -> None:
    async with ProxyServer(events=EventLog(open("/dev/null", "w")), token="s3cret") as server, \
            aiohttp.ClientSession() as session:
        api = Api(session, server.api_url)
        status, _, body = await api.call("GET", "/proxies")
        assert (status, body["status"]) == (401, 401)
        wrong = {"Authorization": "Bearer nope"}
        assert (await api.call("GET", "/proxies", headers=wrong))[0] == 401
        right = {"Authorization": "Bearer s3cret"}
        assert (await api.call("GET", "/proxies", headers=right))[::2] == (200, {})


def test_loopback_detection() -> None:
    assert all(map(is_loopback, ["127.0.0.1", "127.1.2.3", "::1", "localhost"]))
    assert not any(map(is_loopback, ["", "0.0.0.0", "::", "192.0.2.1", "example.com"]))


@pytest.mark.parametrize(("body", "message"), [
    ({"type": "slicer"}, "average_size of slicer must be from 1 to"),
    ({"type": "http_abort", "stream": "downstream"}, "works on the upstream stream"),
    ({"type": "http_abort", "attributes": {"status": 0}}, "from 100 to 599"),
])
async def test_new_toxics_nonsense_is_400(api: Api, echo_server: TcpServer,
                                          body: dict[str, Any], message: str) -> None:
    await api.call("POST", "/proxies", entry("db", echo_server.address))
    status, _, error = await api.call("POST", "/proxies/db/toxics", body)
    assert status == 400
    assert message in error["error"]
    assert (await api.call("GET", "/proxies/db/toxics"))[2] == []


async def test_http_toxics_default_to_the_upstream_stream(api: Api,
                                                          echo_server: TcpServer) -> None:
    await api.call("POST", "/proxies", entry("db", echo_server.address))
    status, _, toxic = await api.call("POST", "/proxies/db/toxics", {"type": "http_abort"})
    assert (status, toxic["name"], toxic["stream"]) == (200, "http_abort_upstream", "upstream")
    assert toxic["attributes"] == {"status": 503, "method": "", "path_prefix": "",
                                   "percent": 100}
