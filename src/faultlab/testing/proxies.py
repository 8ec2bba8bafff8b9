"""The proxy server and proxies of the pytest fixtures, as small values.

The server is faultlab's own (``faultlab proxy serve``, spawned as for a run); a
:class:`Proxy` is one listen -> upstream pair on it, and the target a proxy fault acts on.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from faultlab.proxy.process import ProxyServerHandle
    from faultlab.testing.loop import LoopThread

__all__ = ["Proxy", "ProxyFactory", "ProxyServer"]


@dataclass(frozen=True)
class ProxyServer:
    """A running proxy server: its control API (Toxiproxy-compatible), pid and log."""

    api_url: str
    pid: int
    instance: str | None  # the server's identity; undo checks it before touching anything
    log_path: Path


@dataclass(frozen=True)
class Proxy:
    """A proxy on a :class:`ProxyServer`: clients connect to ``listen``, which forwards to
    ``upstream``. Pass it as the ``target`` of a proxy fault."""

    name: str
    listen: str  # host:port as bound (a port 0 asked for is the real port here)
    upstream: str
    server: ProxyServer

    @property
    def host(self) -> str:
        return self.listen.rpartition(":")[0].strip("[]")

    @property
    def port(self) -> int:
        return int(self.listen.rpartition(":")[2])


async def start_server(log_path: Path) -> tuple[ProxyServer, ProxyServerHandle]:
    from faultlab.proxy.client import ProxyClient
    from faultlab.proxy.process import spawn_proxy_server

    handle = await spawn_proxy_server(log_path)
    try:
        async with ProxyClient(handle.api_url) as client:
            instance = await client.instance()
    except BaseException:
        await handle.stop()
        raise
    return ProxyServer(handle.api_url, handle.pid, instance, log_path), handle


def _address(value: str | tuple[str, int]) -> str:
    if isinstance(value, tuple):
        host, port = value
        return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    return value


_names = itertools.count(1)


class ProxyFactory:
    """``faultlab_proxy(upstream)``: a new proxy on the session's server, removed when the
    test ends. ``upstream`` and ``listen`` are ``"host:port"`` or ``(host, port)``."""

    def __init__(self, server: ProxyServer, loop: LoopThread) -> None:
        self.server = server
        self._loop = loop
        self._made: list[Proxy] = []

    def __call__(self, upstream: str | tuple[str, int], *,
                 listen: str | tuple[str, int] = "127.0.0.1:0",
                 name: str | None = None) -> Proxy:
        name = name if name is not None else f"pytest-{next(_names)}"
        proxy = self._loop.run(self._create(name, _address(listen), _address(upstream)),
                               cancel_on_interrupt=True)
        self._made.append(proxy)
        return proxy

    async def _create(self, name: str, listen: str, upstream: str) -> Proxy:
        from faultlab.proxy.client import ProxyApiError, ProxyClient

        async with ProxyClient(self.server.api_url) as client:
            try:
                info = await client.create_proxy(name, listen, upstream)
            except ProxyApiError as e:
                raise ValueError(f"cannot create proxy {name!r} ({listen} -> {upstream}): "
                                 f"{e.message}") from None
        return Proxy(info["name"], info["listen"], info["upstream"], self.server)

    def close(self) -> None:
        """Remove every proxy this factory made (their toxics go with them)."""
        made, self._made = self._made, []
        if made:
            self._loop.run(self._remove(made), cancel_on_interrupt=False)

    async def _remove(self, proxies: list[Proxy]) -> None:
        from faultlab.proxy.client import ProxyClient

        async with ProxyClient(self.server.api_url) as client:
            for proxy in proxies:
                await client.delete_proxy(proxy.name, missing_ok=True)
