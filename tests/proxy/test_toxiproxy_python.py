"""The toxiproxy-python client from PyPI (0.1.1, unchanged) drives our server.

No shim is needed on Python 3.11: the package imports ``future``, which still installs.
The client is blocking (requests) and keeps its address in class attributes, so the server
runs in a thread of its own.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest

toxiproxy = pytest.importorskip("toxiproxy")
from toxiproxy import Toxiproxy  # noqa: E402
from toxiproxy.api import APIConsumer  # noqa: E402
from toxiproxy.exceptions import InvalidToxic, NotFound, ProxyExists  # noqa: E402

from .threaded import ThreadedServer, threaded_server  # noqa: E402


@pytest.fixture
def running() -> Iterator[ThreadedServer]:
    with threaded_server() as threaded:
        address = threaded.server.address
        assert address is not None
        old = APIConsumer.host, APIConsumer.port
        APIConsumer.host, APIConsumer.port = address.host, address.port
        try:
            yield threaded
        finally:
            APIConsumer.host, APIConsumer.port = old


@pytest.fixture
def echo() -> Iterator[str]:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        yield f"127.0.0.1:{listener.getsockname()[1]}"


def test_toxiproxy_python_drives_the_server(running: ThreadedServer, echo: str) -> None:
    server = Toxiproxy()
    assert server.running()
    assert server.version() == b'{"version": "2.12.0"}\n'
    proxy = server.create(upstream=echo, name="db")
    assert proxy.listen.startswith("127.0.0.1:") and proxy.enabled is True
    with pytest.raises(ProxyExists):
        server.create(upstream=echo, name="db")
    assert set(server.proxies()) == {"db"}

    proxy.add_toxic(type="latency", attributes={"latency": 100, "jitter": 5})
    proxy.add_toxic(type="slicer", stream="upstream", name="cut",
                    attributes={"average_size": 10, "size_variation": 2, "delay": 5})
    toxics = proxy.toxics()
    assert set(toxics) == {"latency_downstream", "cut"}
    assert toxics["latency_downstream"].attributes == {"latency": 100, "jitter": 5}
    assert proxy.get_toxic("cut").stream == "upstream"
    with pytest.raises(InvalidToxic):  # Toxiproxy would crash on this one
        proxy.add_toxic(type="slicer", name="bad", attributes={"average_size": 0})
    with pytest.raises(InvalidToxic):
        proxy.add_toxic(type="no_such_toxic")
    assert proxy.destroy_toxic("cut")
    with pytest.raises(NotFound):
        proxy.destroy_toxic("cut")

    with proxy.down():
        assert server.get_proxy("db").enabled is False
    assert server.get_proxy("db").enabled is True

    populated = server.populate([{"name": "cache", "upstream": echo,
                                  "listen": "127.0.0.1:0"}])
    assert [p.name for p in populated] == ["cache"]
    assert server.reset()
    assert proxy.toxics() == {}
    server.destroy_all()
    assert server.proxies() == {}
