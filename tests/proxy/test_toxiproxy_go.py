"""The two behaviours in which faultlab differed from Toxiproxy's own API tests
(``api_test.go``, retargeted at faultlab: 32 of 34 passed), as our own tests.

The Go client reports an API error as ``<Operation>: HTTP <status>: <error>`` and its
tests compare that string exactly, so the error *text* is part of the API:

* ``TestCreateProxyPortConflict`` expects ``Create: HTTP 500: listen tcp 127.0.0.1:3310:
  bind: address already in use``; faultlab said ``[Errno 98] Address already in use``.
  Now it says what Go says (fixed; see also test_registry and test_addresses).
* ``TestPopulateProxyWithBadDataShouldReturnError`` sends three entries, the second with
  listen ``local373``, and expects an error *and the first proxy to exist*: Toxiproxy
  applies entries one by one and keeps what it applied. faultlab's ``/populate`` is all or
  nothing by design (a failed request changes nothing), so this one difference stays and
  is documented in docs/proxy.md; the test below pins faultlab's side of it.

The other 32 (version, request id, browser 403, create/get/list/delete, name conflict,
populate, toxics add/update/remove, noop, invalid stream...) are covered by test_api,
test_api_more, test_api_http and test_toxiproxy_python.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import aiohttp
import pytest

from faultlab.proxy.server import ProxyServer

from .helpers import TcpServer


class GoLikeClient:
    """Requests as the Go client sends them, errors formatted as it formats them."""

    def __init__(self, session: aiohttp.ClientSession, url: str) -> None:
        self.session = session
        self.url = url

    async def _call(self, operation: str, method: str, path: str, body: object,
                    expected: int) -> object:
        async with self.session.request(method, self.url + path, data=json.dumps(body),
                                        headers={"Content-Type": "application/json",
                                                 "User-Agent": "Go-http-client/1.1"}) as reply:
            text = await reply.text()
            if reply.status != expected:
                raise RuntimeError(f"{operation}: HTTP {reply.status}: "
                                   f"{json.loads(text)['error']}")
            return json.loads(text)

    async def create_proxy(self, name: str, listen: str, upstream: str) -> object:
        return await self._call("Create", "POST", "/proxies", {
            "name": name, "listen": listen, "upstream": upstream, "enabled": True,
            "toxics": None}, 201)

    async def delete_proxy(self, name: str) -> None:
        async with self.session.delete(f"{self.url}/proxies/{name}") as reply:
            assert reply.status == 204

    async def populate(self, proxies: list[dict[str, object]]) -> object:
        return await self._call("Populate", "POST", "/populate", proxies, 201)

    async def proxies(self) -> dict[str, object]:
        async with self.session.get(self.url + "/proxies") as reply:
            result: dict[str, object] = await reply.json()
            return result


@pytest.fixture
async def go(server: ProxyServer) -> AsyncIterator[GoLikeClient]:
    async with aiohttp.ClientSession() as session:
        yield GoLikeClient(session, server.api_url)


async def test_port_conflict_error_is_gos_text(go: GoLikeClient, echo_server: TcpServer) -> None:
    first = await go.create_proxy("mysql_master", "localhost:0", "localhost:20001")
    assert isinstance(first, dict)
    port = first["listen"].rpartition(":")[2]
    with pytest.raises(RuntimeError) as caught:
        await go.create_proxy("test", f"localhost:{port}", "localhost:20001")
    assert str(caught.value) == (
        f"Create: HTTP 500: listen tcp 127.0.0.1:{port}: bind: address already in use")
    await go.delete_proxy("mysql_master")
    again = await go.create_proxy("test", f"localhost:{port}", "localhost:20001")
    assert isinstance(again, dict)
    assert again["listen"] == f"127.0.0.1:{port}"


async def test_populate_with_bad_data_fails_and_changes_nothing(go: GoLikeClient) -> None:
    """Toxiproxy's version of this test also expects proxy "one" to have been created."""
    entries: list[dict[str, object]] = [
        {"name": "one", "listen": "localhost:0", "upstream": "localhost:7171", "enabled": True},
        {"name": "two", "listen": "local373", "upstream": "localhost:7474", "enabled": True},
        {"name": "three", "listen": "localhost:0", "upstream": "localhost:7676",
         "enabled": True}]
    with pytest.raises(RuntimeError) as caught:
        await go.populate(entries)
    assert str(caught.value) == ("Populate: HTTP 400: bad request body: listen: address "
                                 "local373: missing port in address at proxy 2")
    assert await go.proxies() == {}
