"""The fault-injection TCP proxy and its Toxiproxy-compatible control API.

The server runs as its own process (:func:`spawn_proxy_server`, or
``python -m faultlab.proxy serve``) so that its faults keep their leases if the runner dies;
faults and the runner drive it with :class:`ProxyClient`.

Layers, from the inside out: ``toxics`` (the sans-IO toxic core), ``chain`` (a direction's
toxics and the toxicity draw), ``relay`` (one connection's sockets), ``listener`` (one
proxy), ``observe`` (what an observing proxy records of each connection and HTTP request),
``registry`` (all proxies and their leases), ``schema`` (JSON in and out), ``api``
(the HTTP routes), ``server`` (the server and its process), ``client`` and ``process`` (what
the rest of faultlab uses).

Names are imported lazily so that ``import faultlab.proxy`` (and the CLI) stays cheap.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from faultlab.proxy.client import (
        ProxyApiError,
        ProxyClient,
        ProxyInfo,
        ProxyUnreachable,
        ToxicInfo,
    )
    from faultlab.proxy.process import (
        ProxyServerError,
        ProxyServerHandle,
        spawn_proxy_server,
        stop_pid,
    )

__all__ = [
    "ProxyApiError",
    "ProxyClient",
    "ProxyInfo",
    "ProxyServerError",
    "ProxyServerHandle",
    "ProxyUnreachable",
    "ToxicInfo",
    "spawn_proxy_server",
    "stop_pid",
]

_HOMES = {
    "ProxyApiError": "client",
    "ProxyClient": "client",
    "ProxyInfo": "client",
    "ProxyUnreachable": "client",
    "ToxicInfo": "client",
    "ProxyServerError": "process",
    "ProxyServerHandle": "process",
    "spawn_proxy_server": "process",
    "stop_pid": "process",
}


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{home}"), name)


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
