"""The control API over HTTP: Toxiproxy's routes, shapes, codes and error bodies."""

from __future__ import annotations

import asyncio
import io
import json
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from faultlab.proxy.server import ProxyServer

from .helpers import TcpServer, events


class Api:
    """Raw HTTP, so that status codes, headers and bodies are checked as sent."""

    def __init__(self, session: aiohttp.ClientSession, url: str) -> None:
        self.session = session
        self.url = url

    async def call(self, method: str, path: str, body: object = None, *, raw: bytes | None = None,
                   headers: dict[str, str] | None = None) -> tuple[int, str, Any]:
        data = raw if raw is not None else (None if body is None else json.dumps(body))
        async with self.session.request(method, self.url + path, data=data,
                                        headers=headers) as response:
            text = await response.text()
            try:
                parsed = json.loads(text) if text else None
            except ValueError:
                parsed = None
            return response.status, response.headers.get("Content-Type", ""), parsed


@pytest.fixture
async def api(server: ProxyServer) -> AsyncIterator[Api]:
    async with aiohttp.ClientSession() as session:
        yield Api(session, server.api_url)


@pytest.fixture
async def proxy(api: Api, echo_server: TcpServer) -> dict[str, Any]:
    status, _, body = await api.call("POST", "/proxies", {
        "name": "db", "listen": "localhost:0", "upstream": echo_server.address})
    assert status == 201
    assert isinstance(body, dict)
    return body


async def test_version_is_exactly_toxiproxys(server: ProxyServer) -> None:
    async with aiohttp.ClientSession() as session, \
            session.get(server.api_url + "/version") as response:
        assert response.status == 200
        assert response.headers["Content-Type"] == "application/json;charset=utf-8"
        assert await response.read() == b'{"version": "2.12.0"}\n'
        assert response.headers["X-Toxiproxy-Request-Id"]


async def test_browsers_are_refused(api: Api) -> None:
    status, content_type, _ = await api.call(
        "GET", "/proxies", headers={"User-Agent": "Mozilla/5.0 (X11; Linux x86_64)"})
    assert status == 403
    assert content_type.startswith("text/plain")


async def test_unknown_path_and_wrong_method(api: Api, server: ProxyServer) -> None:
    async with aiohttp.ClientSession() as session:
        async with session.get(server.api_url + "/nope") as response:
            assert response.status == 404
            assert await response.text() == "404 page not found\n"
        async with session.put(server.api_url + "/proxies") as response:
            assert response.status == 405
            assert await response.read() == b""


async def test_create_resolves_listen_and_get_returns_it(api: Api, proxy: dict[str, Any],
                                                          echo_server: TcpServer) -> None:
    assert proxy["name"] == "db"
    assert proxy["listen"].startswith("127.0.0.1:")
    assert not proxy["listen"].endswith(":0")
    assert proxy["upstream"] == echo_server.address
    assert proxy["enabled"] is True
    assert proxy["toxics"] == []
    assert proxy["ttl_remaining"] is None
    assert await api.call("GET", "/proxies/db") == (200, "application/json", proxy)
    assert await api.call("GET", "/proxies") == (200, "application/json", {"db": proxy})


async def test_errors_have_toxiproxys_body_and_codes(api: Api, proxy: dict[str, Any]) -> None:
    async with api.session.get(api.url + "/proxies/missing") as response:
        assert response.status == 404
        assert response.headers["Content-Type"] == "text/plain; charset=utf-8"
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert await response.text() == '{"error":"proxy not found","status":404}\n'
    duplicate = {"name": "db", "upstream": "127.0.0.1:1"}
    assert (await api.call("POST", "/proxies", duplicate))[::2] == (
        409, {"error": "proxy already exists", "status": 409})
    assert (await api.call("POST", "/proxies", {"upstream": "127.0.0.1:1"}))[::2] == (
        400, {"error": "missing required field: name", "status": 400})
    assert (await api.call("POST", "/proxies", {"name": "x"}))[::2] == (
        400, {"error": "missing required field: upstream", "status": 400})
    assert (await api.call("DELETE", "/proxies/db/toxics/nope"))[::2] == (
        404, {"error": "toxic not found", "status": 404})


async def test_bind_failure_is_a_500_and_adds_nothing(api: Api, proxy: dict[str, Any]) -> None:
    status, _, body = await api.call("POST", "/proxies", {
        "name": "clash", "listen": proxy["listen"], "upstream": "127.0.0.1:1"})
    assert status == 500
    assert "in use" in body["error"]
    assert (await api.call("GET", "/proxies/clash"))[0] == 404


async def test_toxic_lifecycle(api: Api, proxy: dict[str, Any]) -> None:
    status, _, toxic = await api.call("POST", "/proxies/db/toxics", {
        "type": "latency", "attributes": {"latency": 100}})
    assert status == 200  # not 201, as in Toxiproxy
    assert toxic == {"attributes": {"latency": 100, "jitter": 0}, "name": "latency_downstream",
                     "type": "latency", "stream": "downstream", "toxicity": 1.0,
                     "ttl_remaining": None}
    assert list(toxic) == ["attributes", "name", "type", "stream", "toxicity", "ttl_remaining"]
    status, _, up = await api.call("POST", "/proxies/db/toxics", {
        "type": "bandwidth", "stream": "UPSTREAM", "toxicity": 0.5, "attributes": {"rate": 5}})
    assert (status, up["name"], up["stream"]) == (200, "bandwidth_upstream", "upstream")
    # Upstream chain first, then downstream.
    _, _, listed = await api.call("GET", "/proxies/db/toxics")
    assert [t["name"] for t in listed] == ["bandwidth_upstream", "latency_downstream"]
    # A name clash across streams.
    assert (await api.call("POST", "/proxies/db/toxics", {
        "type": "latency", "stream": "upstream", "name": "latency_downstream"}))[0] == 409
    # PATCH merges attributes; name, type and stream in the body are ignored.
    status, _, patched = await api.call("PATCH", "/proxies/db/toxics/latency_downstream", {
        "attributes": {"jitter": 5}, "type": "bandwidth", "stream": "upstream"})
    assert status == 200
    assert patched["attributes"] == {"latency": 100, "jitter": 5}
    assert (patched["type"], patched["stream"], patched["toxicity"]) == (
        "latency", "downstream", 1.0)
    status, _, posted = await api.call("POST", "/proxies/db/toxics/latency_downstream", {
        "toxicity": 0.25})
    assert (status, posted["toxicity"], posted["attributes"]["jitter"]) == (200, 0.25, 5)
    assert (await api.call("GET", "/proxies/db/toxics/latency_downstream"))[2] == posted
    assert (await api.call("DELETE", "/proxies/db/toxics/latency_downstream"))[0] == 204
    assert (await api.call("GET", "/proxies/db/toxics/latency_downstream"))[0] == 404
    _, _, db = await api.call("GET", "/proxies/db")
    assert [t["name"] for t in db["toxics"]] == ["bandwidth_upstream"]


async def test_hidden_noop_toxic_is_accepted(api: Api, proxy: dict[str, Any]) -> None:
    status, _, toxic = await api.call("POST", "/proxies/db/toxics", {"type": "noop"})
    assert (status, toxic["name"], toxic["attributes"]) == (200, "noop_downstream", {})


BAD_TOXICS: list[tuple[str, dict[str, Any] | bytes, str]] = [
    ("negative", {"type": "latency", "attributes": {"latency": -5}}, "not be negative"),
    ("string", {"type": "latency", "attributes": {"latency": "5"}}, "must be an integer"),
    ("fraction", {"type": "bandwidth", "attributes": {"rate": 1.5}}, "whole number"),
    ("huge", {"type": "latency", "attributes": {"jitter": 10**40}}, "at most"),
    ("overflow float", {"type": "reset_peer", "attributes": {"timeout": 1e308}}, "at most"),
    ("bool", {"type": "latency", "attributes": {"latency": True}}, "must be an integer"),
    ("NaN", b'{"type": "latency", "attributes": {"latency": NaN}}', "not valid JSON"),
    ("Infinity", b'{"type": "latency", "attributes": {"latency": Infinity}}', "not valid JSON"),
    ("toxicity", {"type": "latency", "toxicity": 1.5}, "toxicity"),
    ("toxicity type", {"type": "latency", "toxicity": "high"}, "toxicity"),
    ("ttl zero", {"type": "latency", "ttl": 0}, "ttl"),
    ("ttl negative", {"type": "latency", "ttl": -3}, "ttl"),
    ("ttl huge", {"type": "latency", "ttl": 1e12}, "ttl"),
    ("ttl overflow", b'{"type": "latency", "ttl": 1' + b"0" * 400 + b"}", "ttl"),
    ("toxicity overflow", b'{"type": "latency", "toxicity": 1' + b"0" * 400 + b"}",
     "toxicity"),
    ("attributes list", {"type": "latency", "attributes": [1]}, "JSON object"),
    ("type", {"type": "slowness"}, "invalid toxic type"),
    ("stream", {"type": "latency", "stream": "sideways"}, "stream was invalid"),
    ("name slash", {"type": "latency", "name": "a/b"}, "name"),
    ("not json", b"{nope", "bad request body"),
    ("not an object", b"[1, 2]", "JSON object"),
    ("deep nesting", b"[" * 100_000 + b"]" * 100_000, "bad request body"),
    ("not utf-8", b'{"type": "\xff"}', "bad request body"),
]


@pytest.mark.parametrize(("body", "message"), [(b, m) for _, b, m in BAD_TOXICS],
                         ids=[i for i, _, _ in BAD_TOXICS])
async def test_bad_toxic_bodies_are_400_and_change_nothing(
        api: Api, proxy: dict[str, Any], body: dict[str, Any] | bytes, message: str) -> None:
    raw = body if isinstance(body, bytes) else None
    status, content_type, error = await api.call("POST", "/proxies/db/toxics",
                                                 None if raw else body, raw=raw)
    assert status == 400
    assert content_type.startswith("text/plain")
    assert error["status"] == 400
    assert message in error["error"]
    # The server is still up and nothing was added.
    assert (await api.call("GET", "/proxies/db/toxics"))[::2] == (200, [])


async def test_bad_toxic_update_is_400_and_keeps_the_toxic(api: Api,
                                                           proxy: dict[str, Any]) -> None:
    await api.call("POST", "/proxies/db/toxics", {"type": "latency",
                                                  "attributes": {"latency": 7}})
    for patch in ({"attributes": {"latency": -1}}, {"toxicity": -0.1},
                  {"attributes": {"jitter": 0.5}}):
        assert (await api.call("PATCH", "/proxies/db/toxics/latency_downstream", patch))[0] == 400
    _, _, toxic = await api.call("GET", "/proxies/db/toxics/latency_downstream")
    assert (toxic["attributes"], toxic["toxicity"]) == ({"latency": 7, "jitter": 0}, 1.0)


@pytest.mark.parametrize("body", [
    {"name": "x", "upstream": "nohost"},
    {"name": "x", "upstream": "127.0.0.1:0"},
    {"name": "x", "upstream": "127.0.0.1:99999"},
    {"name": "x", "upstream": 5},
    {"name": "x", "upstream": "127.0.0.1:1", "listen": "nonsense"},
    {"name": "x", "upstream": "127.0.0.1:1", "enabled": "yes"},
    {"name": 3, "upstream": "127.0.0.1:1"},
    {"name": "x", "upstream": "127.0.0.1:1", "ttl": 5},  # a ttl needs enabled: false
])
async def test_bad_proxy_bodies_are_400(api: Api, body: dict[str, Any]) -> None:
    status, _, error = await api.call("POST", "/proxies", body)
    assert (status, error["status"]) == (400, 400)
    assert (await api.call("GET", "/proxies"))[::2] == (200, {})


async def test_disable_enable_keeps_the_resolved_port(api: Api, proxy: dict[str, Any]) -> None:
    status, _, down = await api.call("PATCH", "/proxies/db", {"enabled": False})
    assert (status, down["enabled"], down["listen"]) == (200, False, proxy["listen"])
    status, _, up = await api.call("POST", "/proxies/db", {"enabled": True})
    assert (status, up["enabled"], up["listen"]) == (200, True, proxy["listen"])


async def test_toxics_survive_a_restart_on_a_new_upstream(api: Api, proxy: dict[str, Any],
                                                          echo_server: TcpServer) -> None:
    await api.call("POST", "/proxies/db/toxics", {"type": "latency"})
    status, _, moved = await api.call("PATCH", "/proxies/db", {"upstream": "127.0.0.1:9"})
    assert (status, moved["upstream"], moved["listen"]) == (200, "127.0.0.1:9", proxy["listen"])
    assert [t["name"] for t in moved["toxics"]] == ["latency_downstream"]


async def test_delete_and_reset(api: Api, proxy: dict[str, Any]) -> None:
    await api.call("POST", "/proxies/db/toxics", {"type": "latency", "ttl": 60})
    await api.call("PATCH", "/proxies/db", {"enabled": False, "ttl": 60})
    assert (await api.call("POST", "/reset"))[0] == 204
    _, _, db = await api.call("GET", "/proxies/db")
    assert (db["enabled"], db["toxics"], db["ttl_remaining"]) == (True, [], None)
    assert (await api.call("DELETE", "/proxies/db"))[0] == 204
    assert (await api.call("GET", "/proxies/db"))[0] == 404
    assert (await api.call("DELETE", "/proxies/db"))[0] == 404


async def test_leases_are_reported_as_ttl_remaining(api: Api, proxy: dict[str, Any]) -> None:
    _, _, toxic = await api.call("POST", "/proxies/db/toxics", {"type": "latency", "ttl": 30})
    assert 29 < toxic["ttl_remaining"] <= 30
    _, _, down = await api.call("PATCH", "/proxies/db", {"enabled": False, "ttl": 20.5})
    assert 19 < down["ttl_remaining"] <= 20.5
    # A PATCH with "ttl": null drops the toxic's lease.
    _, _, kept = await api.call("PATCH", "/proxies/db/toxics/latency_downstream", {"ttl": None})
    assert kept["ttl_remaining"] is None


async def test_every_change_is_one_event_line(api: Api, proxy: dict[str, Any],
                                              log: io.StringIO) -> None:
    await api.call("POST", "/proxies/db/toxics", {"type": "latency", "ttl": 9})
    await api.call("PATCH", "/proxies/db/toxics/latency_downstream", {"toxicity": 0.5})
    await api.call("DELETE", "/proxies/db/toxics/latency_downstream")
    await api.call("PATCH", "/proxies/db", {"enabled": False})
    await api.call("GET", "/proxies/db")  # reads are not logged
    await api.call("DELETE", "/proxies/db")
    names = [e["event"] for e in events(log.getvalue())]
    assert names == ["api_listening", "proxy_created", "toxic_added", "toxic_updated",
                     "toxic_removed", "proxy_updated", "proxy_deleted"]
    added = events(log.getvalue())[2]
    assert (added["proxy"], added["toxic"], added["attributes"], added["ttl"]) == (
        "db", "latency_downstream", {"latency": 0, "jitter": 0}, 9)


async def test_concurrent_requests_do_not_interleave(api: Api, proxy: dict[str, Any]) -> None:
    async def flip(i: int) -> int:
        return (await api.call("PATCH", "/proxies/db", {"enabled": i % 2 == 0}))[0]

    async def add(i: int) -> int:
        return (await api.call("POST", "/proxies/db/toxics",
                               {"type": "noop", "name": f"n{i}"}))[0]

    statuses = await asyncio.gather(*(f(i) for i in range(20) for f in (flip, add)))
    assert set(statuses) == {200}
    _, _, db = await api.call("GET", "/proxies/db")
    assert len(db["toxics"]) == 20
