"""The API fuzzed with Hypothesis-generated requests, and a soak of short connections.

Fuzz: any request (method, path, body: valid-looking bodies built from the OpenAPI
description's vocabulary, arbitrary JSON, or raw bytes) gets an answer below 500, except
the documented 500s for a listen address that cannot be resolved or bound; and the server
keeps answering. Soak: thousands of short connections leave no file descriptor and no task
behind.
"""

from __future__ import annotations

import asyncio
import http.client
import json
import os
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from faultlab.proxy.client import ProxyClient
from faultlab.proxy.openapi import openapi_document
from faultlab.proxy.server import ProxyServer
from faultlab.proxy.toxics import TOXIC_TYPES

from .helpers import Conn, TcpServer
from .threaded import ThreadedServer, threaded_server

BIND_FAILURES = ("address", "bind", "assign", "in use", "resolve", "not known", "name",
                 "family", "permission")

names = st.sampled_from(["db", "cache", "x", "%2F", "a.b", "ü", "latency_downstream",
                         "t"]) | st.text("abc_", min_size=1, max_size=4)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats(allow_nan=False)
    | st.text(max_size=6),
    lambda children: st.lists(children, max_size=3)
    | st.dictionaries(st.text(max_size=6), children, max_size=3), max_leaves=6)
listens = st.sampled_from(["127.0.0.1:0", "localhost:0", "[::1]:0", "127.0.0.1:1", ":0x",
                           "nonsense", "", "127.0.0.1:99999", "256.0.0.1:0"])
upstreams = st.sampled_from(["127.0.0.1:9", "localhost:1", "nohost", "127.0.0.1:0", ""])
attribute_names = sorted({f for kind in TOXIC_TYPES.values()
                          for f in kind.attributes.__dataclass_fields__})
attributes = st.dictionaries(st.sampled_from(attribute_names),
                             st.integers(-5, 2**40) | st.text("GETPOS/", max_size=5)
                             | json_values, max_size=3)
proxy_bodies = st.fixed_dictionaries({}, optional={
    "name": names | json_values, "listen": listens | json_values, "upstream": upstreams,
    "enabled": st.booleans() | json_values, "ttl": st.floats(-1, 100) | json_values})
toxic_bodies = st.fixed_dictionaries({}, optional={
    "name": names, "type": st.sampled_from(sorted(TOXIC_TYPES)) | json_values,
    "stream": st.sampled_from(["upstream", "downstream", "UP"]) | json_values,
    "toxicity": st.floats(-1, 2) | json_values, "attributes": attributes | json_values,
    "ttl": st.floats(-1, 100) | json_values})
bodies = (proxy_bodies | toxic_bodies | st.lists(proxy_bodies, max_size=3) | json_values)
raw = bodies.map(lambda b: json.dumps(b).encode()) | st.binary(max_size=40)

TEMPLATES = [path for path in openapi_document()["paths"] if path != "/metrics"]


@st.composite
def requests(draw: st.DrawFn) -> tuple[str, str, bytes]:
    template = draw(st.sampled_from([*TEMPLATES, "/nope", "/proxies/{proxy}/x"]))
    path = template.replace("{proxy}", draw(names)).replace("{toxic}", draw(names))
    path = "/".join(part.encode("utf-8").decode("latin-1") for part in path.split("/"))
    method = draw(st.sampled_from(["GET", "POST", "PATCH", "DELETE", "PUT"]))
    return method, path, draw(raw)


@pytest.fixture(scope="module")
def running() -> Iterator[ThreadedServer]:
    with threaded_server() as threaded:
        yield threaded


def _send(server: ProxyServer, method: str, path: str, body: bytes) -> tuple[int, bytes]:
    assert server.address is not None
    connection = http.client.HTTPConnection(server.address.host, server.address.port,
                                            timeout=10)
    try:
        from urllib.parse import quote
        connection.request(method, quote(path, safe="/%"), body=body)
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


@settings(max_examples=400, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.lists(requests(), min_size=1, max_size=4))
def test_no_request_gets_a_5xx_or_hurts_the_server(
        running: ThreadedServer, sequence: list[tuple[str, str, bytes]]) -> None:
    server = running.server
    for method, path, body in sequence:
        status, answer = _send(server, method, path, body)
        if status >= 500:
            message = json.loads(answer)["error"].lower()
            assert status == 500 and any(word in message for word in BIND_FAILURES), (
                method, path, body, status, answer)
    assert _send(server, "GET", "/version", b"")[0] == 200


@pytest.mark.slow
async def test_soak_of_short_connections_leaks_nothing(server: ProxyServer, client: ProxyClient,
                                                       echo_server: TcpServer) -> None:
    listen = (await client.create_proxy("soak", "127.0.0.1:0", echo_server.address))["listen"]
    plain = (await client.create_proxy("plain", "127.0.0.1:0",
                                       echo_server.address))["listen"]
    await client.add_toxic("soak", "latency", {"latency": 1}, toxicity=0.5)
    await client.add_toxic("soak", "limit_data", {"bytes": 3}, toxicity=0.2,
                           stream="upstream")

    async def one(i: int) -> None:
        conn = await Conn.open(listen if i % 2 else plain)
        try:
            if i % 5 == 0:
                conn.writer.transport.abort()  # an abrupt client
                return
            conn.writer.write(b"hello")
            await conn.writer.drain()
            await asyncio.wait_for(conn.reader.read(5), 5)
        except (ConnectionError, TimeoutError):
            pass
        finally:
            await conn.aclose()

    def fds() -> int:
        return len(os.listdir("/proc/self/fd"))

    async def settle() -> None:
        for _ in range(250):
            if not any(p.connections for p in server.registry.proxies.values()):
                return
            await asyncio.sleep(0.02)

    before_fds, before_tasks = fds(), len(asyncio.all_tasks())
    for batch in range(20):
        await asyncio.gather(*(one(batch * 100 + i) for i in range(100)))
    await asyncio.sleep(0.3)
    await settle()
    infos = await client.list_proxies()
    assert set(infos) == {"soak", "plain"}
    assert not any(p.connections for p in server.registry.proxies.values())
    assert fds() <= before_fds + 2, "sockets leaked"
    assert len(asyncio.all_tasks()) <= before_tasks, "tasks leaked"
