"""Changes to proxies through the API: a request that fails leaves everything as it was."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from typing import Any

import aiohttp
import pytest

from faultlab.proxy.server import ProxyServer

from .helpers import Conn, TcpServer
from .test_api import Api


@pytest.fixture
async def api(server: ProxyServer) -> AsyncIterator[Api]:
    async with aiohttp.ClientSession() as session:
        yield Api(session, server.api_url)


@contextmanager
def taken_port(host: str = "127.0.0.1") -> Iterator[int]:
    with socket.socket() as taken:
        taken.bind((host, 0))
        taken.listen()
        yield taken.getsockname()[1]


async def create(api: Api, upstream: str, name: str = "db", **extra: Any) -> dict[str, Any]:
    status, _, body = await api.call("POST", "/proxies", {
        "name": name, "listen": "127.0.0.1:0", "upstream": upstream, **extra})
    assert status == 201, body
    assert isinstance(body, dict)
    return body


@pytest.mark.parametrize("change", [{}, {"enabled": True}, {"upstream": "127.0.0.1:9"}])
async def test_moving_to_a_port_in_use_changes_nothing(
        api: Api, echo_server: TcpServer, conns: list[Conn], change: dict[str, Any]) -> None:
    """Was: 500, the proxy left stopped on the taken port, every re-enable a 500."""
    before = await create(api, echo_server.address)
    await api.call("POST", "/proxies/db/toxics", {"type": "latency", "ttl": 60})
    conn = await Conn.open(before["listen"])
    conns.append(conn)
    assert (await conn.round_trip(b"one"))[0] == b"one"
    with taken_port() as port:
        status, _, error = await api.call("PATCH", "/proxies/db",
                                          {"listen": f"127.0.0.1:{port}", **change})
        assert (status, error["error"]) == (
            500, f"listen tcp 127.0.0.1:{port}: bind: address already in use")
    _, _, after = await api.call("GET", "/proxies/db")
    assert (after["listen"], after["upstream"], after["enabled"]) == (
        before["listen"], before["upstream"], True)
    assert [t["name"] for t in after["toxics"]] == ["latency_downstream"]
    assert (await conn.round_trip(b"two"))[0] == b"two"  # its connection was not dropped
    status, _, again = await api.call("PATCH", "/proxies/db", {"enabled": True})
    assert (status, again["listen"]) == (200, before["listen"])


async def test_a_disabled_proxy_that_cannot_start_stays_as_it_was(
        api: Api, echo_server: TcpServer) -> None:
    before = await create(api, echo_server.address)
    await api.call("PATCH", "/proxies/db", {"enabled": False, "ttl": 60})
    with taken_port() as port:
        status, _, _ = await api.call("PATCH", "/proxies/db", {
            "enabled": True, "listen": f"127.0.0.1:{port}", "upstream": "127.0.0.1:9"})
        assert status == 500
    _, _, after = await api.call("GET", "/proxies/db")
    assert (after["listen"], after["upstream"], after["enabled"]) == (
        before["listen"], before["upstream"], False)
    assert after["ttl_remaining"] is not None  # its lease is still there too


async def test_unresolvable_and_malformed_listens_are_400_and_change_nothing(
        api: Api, echo_server: TcpServer) -> None:
    before = await create(api, echo_server.address)
    for listen, message in [("no-such-host.invalid:0", "listen tcp: lookup no-such-host"),
                            ("127.0.0.1:\u0661\u0662", "invalid port"),
                            ("[fe80::1%nosuchif9]:0", "no network interface")]:
        status, _, error = await api.call("PATCH", "/proxies/db", {"listen": listen})
        assert status == 400, (listen, error)
        assert message in error["error"]
    assert (await api.call("GET", "/proxies/db"))[2] == before


async def test_a_move_onto_an_overlapping_address_of_its_own_succeeds(
        api: Api, echo_server: TcpServer, conns: list[Conn]) -> None:
    """127.0.0.1:P -> 0.0.0.0:P: Linux refuses the bind while the old socket listens, so
    the old listener is released first, as Toxiproxy (which stops first) would."""
    before = await create(api, echo_server.address)
    port = before["listen"].rpartition(":")[2]
    status, _, moved = await api.call("PATCH", "/proxies/db", {"listen": f"0.0.0.0:{port}"})
    assert (status, moved["listen"]) == (200, f"0.0.0.0:{port}")
    conn = await Conn.open(f"127.0.0.1:{port}")
    conns.append(conn)
    assert (await conn.round_trip(b"moved"))[0] == b"moved"


async def test_the_go_bind_message_on_create(api: Api, echo_server: TcpServer) -> None:
    """Toxiproxy's TestCreateProxyPortConflict compares this text exactly."""
    first = await create(api, echo_server.address, name="first")
    port = first["listen"].rpartition(":")[2]
    status, _, error = await api.call("POST", "/proxies", {
        "name": "test", "listen": f"localhost:{port}", "upstream": "localhost:20001"})
    assert (status, error) == (500, {
        "error": f"listen tcp 127.0.0.1:{port}: bind: address already in use", "status": 500})
    assert (await api.call("GET", "/proxies/test"))[0] == 404
    assert (await api.call("DELETE", "/proxies/first"))[0] == 204
    status, _, body = await api.call("POST", "/proxies", {
        "name": "test", "listen": f"localhost:{port}", "upstream": "localhost:20001"})
    assert (status, body["listen"]) == (201, f"127.0.0.1:{port}")


async def test_toxics_given_on_create_are_applied_not_dropped(
        api: Api, echo_server: TcpServer) -> None:
    body = await create(api, echo_server.address, toxics=[
        {"type": "latency", "attributes": {"latency": 5}},
        {"type": "latency", "attributes": {"latency": 7}},  # same default name: replaces
        {"type": "timeout", "stream": "upstream"}])
    assert [(t["name"], t["attributes"]) for t in body["toxics"]] == [
        ("timeout_upstream", {"timeout": 0}), ("latency_downstream", {"latency": 7, "jitter": 0})]
    status, _, error = await api.call("POST", "/proxies", {
        "name": "bad", "upstream": echo_server.address, "toxics": [{"type": "slowness"}]})
    assert status == 400
    assert error["error"].startswith("invalid toxic type: 'slowness'; valid types: bandwidth,")
    assert (await api.call("GET", "/proxies/bad"))[0] == 404


async def test_populate_lets_a_repeated_name_replace_its_earlier_entry(
        api: Api, echo_server: TcpServer) -> None:
    """Toxiproxy applies entries in order, so the last of a repeated name wins; here too,
    all or nothing, and the earlier entry's port is not left bound."""
    with taken_port() as port:
        pass  # a port that was free a moment ago
    entries = [{"name": "x", "listen": f"127.0.0.1:{port}", "upstream": echo_server.address},
               {"name": "x", "listen": f"127.0.0.1:{port}", "upstream": "127.0.0.1:9"}]
    status, _, body = await api.call("POST", "/populate", entries)
    assert status == 201, body
    assert [(p["name"], p["upstream"]) for p in body["proxies"]] == [("x", "127.0.0.1:9")] * 2
    assert body["proxies"][0]["listen"] == f"127.0.0.1:{port}"
    assert list((await api.call("GET", "/proxies"))[2]) == ["x"]
