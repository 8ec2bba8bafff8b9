"""HTTP-level promises of the API for every route: methods and Allow, the instance header,
the token, and the toxic body rules Toxiproxy clients rely on."""

from __future__ import annotations

import datetime
import io
import os
from collections.abc import AsyncIterator

import aiohttp
import pytest

from faultlab.proxy.api import build_app
from faultlab.proxy.client import ProxyApiError, ProxyClient
from faultlab.proxy.events import EventLog
from faultlab.proxy.server import ProxyServer
from faultlab.proxy.toxics import TOXIC_TYPES

from .helpers import TcpServer
from .test_api import Api

# Not CONNECT: its target is host:port, not a path, so it never names a route (404).
METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE", "PROPFIND"]


@pytest.fixture
async def api(server: ProxyServer) -> AsyncIterator[Api]:
    async with aiohttp.ClientSession() as session:
        yield Api(session, server.api_url)


def routes(server: ProxyServer) -> dict[str, set[str]]:
    """Each routed path (with sample names) and the methods it has."""
    table: dict[str, set[str]] = {}
    for route in build_app(server.registry).router.routes():
        assert route.resource is not None
        path = route.resource.canonical.replace("{proxy}", "db").replace("{toxic}", "t")
        table.setdefault(path, set()).add(route.method)
    return table


async def test_every_unsupported_method_is_405_with_allow(
        api: Api, server: ProxyServer, echo_server: TcpServer) -> None:
    await api.call("POST", "/proxies", {"name": "db", "upstream": echo_server.address})
    await api.call("POST", "/proxies/db/toxics", {"type": "noop", "name": "t"})
    table = routes(server)
    assert "*" not in set().union(*table.values())  # TRACE /metrics was a 200
    for path, allowed in table.items():
        for method in METHODS:
            if method in allowed:
                continue
            async with api.session.request(method, api.url + path) as response:
                assert response.status == 405, (method, path)
                assert set(response.headers["Allow"].split(", ")) == allowed, (method, path)
                assert await response.read() == b""  # empty, as Toxiproxy's


async def test_every_response_names_the_instance(echo_server: TcpServer) -> None:
    log = io.StringIO()
    async with ProxyServer(events=EventLog(log), instance_id="run-7.proxy:1",
                           token="s3cret") as server, aiohttp.ClientSession() as session:
        api = Api(session, server.api_url)
        good = {"Authorization": "Bearer s3cret"}
        cases = [("GET", "/version", {}), ("GET", "/proxies", {"User-Agent": "Mozilla/5.0"}),
                 ("GET", "/proxies", {}), ("GET", "/nope", good),
                 ("TRACE", "/metrics", good), ("GET", "/proxies/missing", good),
                 ("POST", "/proxies", good), ("GET", "/faultlab/instance", good)]
        for method, path, headers in cases:
            async with session.request(method, api.url + path, headers=headers) as response:
                assert response.headers["X-Faultlab-Instance"] == "run-7.proxy:1", path
        async with session.get(api.url + "/faultlab/instance", headers=good) as response:
            body = await response.json()
        assert body["instance"] == "run-7.proxy:1"
        assert body["pid"] == os.getpid()
        started = datetime.datetime.fromisoformat(body["started"])
        assert started.tzinfo is not None
        async with ProxyClient(server.api_url, token="s3cret") as client:
            assert await client.instance() == "run-7.proxy:1"
            assert await client.list_proxies() == {}
        async with ProxyClient(server.api_url) as anonymous:
            assert await anonymous.instance() == "run-7.proxy:1"  # identity needs no token
            with pytest.raises(ProxyApiError) as refused:
                await anonymous.list_proxies()
            assert refused.value.status == 401
    assert '"instance":"run-7.proxy:1"' in log.getvalue()


@pytest.mark.parametrize("instance_id", ["", "a b", "x" * 129, "é", "a/b", "a\nb"])
def test_malformed_instance_ids_are_refused(instance_id: str) -> None:
    with pytest.raises(ValueError, match="instance id"):
        ProxyServer(instance_id=instance_id)


async def test_the_token_scheme_is_case_insensitive_and_the_token_is_not() -> None:
    async with ProxyServer(events=EventLog(io.StringIO()), token="Tok-3n") as server, \
            aiohttp.ClientSession() as session:
        api = Api(session, server.api_url)
        for header, status in [("Bearer Tok-3n", 200), ("bearer Tok-3n", 200),
                               ("BEARER  Tok-3n ", 200), ("Bearer tok-3n", 401),
                               ("Basic Tok-3n", 401), ("Tok-3n", 401), ("Bearer", 401),
                               ("Bearer Tok-3n extra", 401), ("Bearer \u00e9", 401)]:
            assert (await api.call("GET", "/proxies",
                                   headers={"Authorization": header}))[0] == status, header


@pytest.mark.parametrize("token", [" ", "", "two words", "tab\there", "é", "a\n"])
def test_tokens_that_cannot_be_sent_are_refused(token: str) -> None:
    with pytest.raises(ValueError, match="visible ASCII"):
        ProxyServer(token=token)
    with pytest.raises(ValueError, match="visible ASCII"):
        ProxyClient("http://127.0.0.1:1", token=token)


async def test_stream_rules_match_toxiproxy(api: Api, echo_server: TcpServer) -> None:
    """Absent or null: the default; "" or anything else: 400 (Toxiproxy decodes "" over
    its default and then fails to parse it)."""
    await api.call("POST", "/proxies", {"name": "db", "upstream": echo_server.address})
    for stream, name in [(None, "a"), ("DOWNSTREAM", "b")]:
        status, _, toxic = await api.call("POST", "/proxies/db/toxics",
                                          {"type": "latency", "stream": stream, "name": name})
        assert (status, toxic["stream"]) == (200, "downstream")
    invalid: list[object] = ["", " ", "up", 0, False, [], {}]
    for bad in invalid:
        status, _, error = await api.call("POST", "/proxies/db/toxics",
                                          {"type": "latency", "stream": bad, "name": "c"})
        assert (status, error["error"]) == (
            400, "stream was invalid, can be either upstream or downstream"), bad


@pytest.mark.parametrize("toxic_type", ["slowness", "", "LATENCY", 5, None, ["latency"]])
async def test_an_invalid_toxic_type_lists_the_valid_ones(api: Api, echo_server: TcpServer,
                                                          toxic_type: object) -> None:
    await api.call("POST", "/proxies", {"name": "db", "upstream": echo_server.address})
    status, _, error = await api.call("POST", "/proxies/db/toxics", {"type": toxic_type})
    assert status == 400
    message = error["error"]
    assert message.startswith("invalid toxic type")  # Toxiproxy's words first
    assert message.endswith("valid types: " + ", ".join(sorted(TOXIC_TYPES)))
