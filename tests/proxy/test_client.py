"""ProxyClient against a real server: every call, every error, the timeout."""

from __future__ import annotations

import asyncio
import time

import pytest

from faultlab.proxy.client import ProxyApiError, ProxyClient, ProxyUnreachable

from .helpers import TcpServer, refusing_port


async def test_every_call(client: ProxyClient, echo_server: TcpServer) -> None:
    assert await client.version() == "2.12.0"
    created = await client.create_proxy("db", "127.0.0.1:0", echo_server.address)
    assert created["enabled"] is True
    assert await client.get_proxy("db") == created
    assert await client.list_proxies() == {"db": created}
    toxic = await client.add_toxic("db", "latency", {"latency": 10}, stream="upstream",
                                   toxicity=0.5, name="slow", ttl=60)
    assert (toxic["name"], toxic["stream"], toxic["toxicity"]) == ("slow", "upstream", 0.5)
    assert toxic["attributes"] == {"latency": 10, "jitter": 0}
    assert toxic.get("ttl_remaining") == pytest.approx(60, abs=1)
    updated = await client.update_toxic("db", "slow", {"jitter": 3}, toxicity=1.0)
    assert (updated["attributes"], updated["toxicity"]) == ({"latency": 10, "jitter": 3}, 1.0)
    down = await client.set_enabled("db", False, ttl=30)
    assert down["enabled"] is False
    assert down.get("ttl_remaining") == pytest.approx(30, abs=1)
    await client.remove_toxic("db", "slow")
    assert (await client.get_proxy("db"))["toxics"] == []
    await client.reset()
    assert (await client.get_proxy("db"))["enabled"] is True
    await client.delete_proxy("db")
    assert await client.list_proxies() == {}


async def test_errors_carry_status_and_message(client: ProxyClient,
                                               echo_server: TcpServer) -> None:
    await client.create_proxy("db", "127.0.0.1:0", echo_server.address)
    with pytest.raises(ProxyApiError) as conflict:
        await client.create_proxy("db", "127.0.0.1:0", echo_server.address)
    assert (conflict.value.status, conflict.value.message) == (409, "proxy already exists")
    with pytest.raises(ProxyApiError) as missing:
        await client.get_proxy("nope")
    assert (missing.value.status, missing.value.message) == (404, "proxy not found")
    with pytest.raises(ProxyApiError) as invalid:
        await client.add_toxic("db", "latency", {"latency": -1})
    assert invalid.value.status == 400
    assert "negative" in invalid.value.message
    with pytest.raises(ProxyApiError) as deleted:
        await client.delete_proxy("nope")
    assert deleted.value.status == 404
    await client.delete_proxy("nope", missing_ok=True)


async def test_remove_toxic_is_idempotent(client: ProxyClient, echo_server: TcpServer) -> None:
    await client.create_proxy("db", "127.0.0.1:0", echo_server.address)
    await client.add_toxic("db", "noop", {}, name="n")
    await client.remove_toxic("db", "n")
    await client.remove_toxic("db", "n")
    await client.remove_toxic("no-such-proxy", "n")


async def test_unreachable_server() -> None:
    with refusing_port() as port:
        async with ProxyClient(f"http://127.0.0.1:{port}") as client:
            with pytest.raises(ProxyUnreachable) as caught:
                await client.list_proxies()
    assert caught.value.status == 0


async def test_every_call_is_bounded_by_the_timeout() -> None:
    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read()  # accept, never answer

    mute = await TcpServer(silent).start()
    try:
        async with ProxyClient(f"http://{mute.address}", timeout=0.3) as client:
            start = time.monotonic()
            with pytest.raises(ProxyUnreachable, match=r"no answer within 0\.3s"):
                await client.reset()
            assert time.monotonic() - start < 3
    finally:
        await mute.close()
