"""Undo records: how to put a fault back, as data.

An undo record is journaled (fsynced) before its fault is applied. The same function,
:func:`execute_undo`, reverts a fault for the runner, for SIGINT/SIGTERM handling and for
``faultlab recover`` after a crash, so there is one revert path to get right. Every action
is idempotent: removing a toxic that is gone, resuming a process that runs, or touching a
process whose pid now belongs to someone else all succeed without effect.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from faultlab import procutil

if TYPE_CHECKING:
    from faultlab.system import Services

__all__ = ["Undo", "UndoKind", "execute_undo"]


class UndoKind(StrEnum):
    REMOVE_TOXIC = "remove_toxic"  # api, proxy, toxic, owned
    ENABLE_PROXY = "enable_proxy"  # api, proxy, owned
    RESUME = "resume"  # processes: [[pid, start_time], ...], keeper: pid | None
    START_SERVICE = "start_service"  # service
    NOTHING = "nothing"  # reason


@dataclass(frozen=True)
class Undo:
    kind: UndoKind
    params: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind.value, **self.params}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Undo:
        params = dict(data)
        return cls(UndoKind(params.pop("kind")), params)


async def execute_undo(undo: Undo, services: Services | None, timeout: float) -> str:
    """Revert one fault; returns what was done. Raises only if the fault may still be active."""
    return await asyncio.wait_for(_execute(undo, services), timeout)


async def _execute(undo: Undo, services: Services | None) -> str:
    p = undo.params
    if undo.kind is UndoKind.REMOVE_TOXIC:
        return await _proxy_call(p, lambda c: c.remove_toxic(p["proxy"], p["toxic"]),
                                 f"removed toxic {p['toxic']}")
    if undo.kind is UndoKind.ENABLE_PROXY:
        return await _proxy_call(p, lambda c: c.set_enabled(p["proxy"], True),
                                 f"enabled proxy {p['proxy']}")
    if undo.kind is UndoKind.RESUME:
        keeper = p.get("keeper")
        if keeper:
            _stop_keeper(int(keeper[0]), keeper[1])
        resumed = []
        for pid, started in p["processes"]:
            try:
                procutil.send_signal(int(pid), signal.SIGCONT, started)
                resumed.append(str(pid))
            except procutil.ProcessGone:
                pass
        return f"resumed {', '.join(resumed) or 'nothing (process gone)'}"
    if undo.kind is UndoKind.START_SERVICE:
        if services is None:
            return "service not restarted (recovery stops the whole system instead)"
        if not services.is_running(p["service"]):
            await services.start(p["service"])
            return f"started service {p['service']}"
        return f"service {p['service']} already running"
    return str(p.get("reason", "nothing to undo"))


async def _proxy_call(p: dict[str, Any], call: Any, done: str) -> str:
    from faultlab.proxy.client import ProxyApiError, ProxyClient, ProxyUnreachable

    client = ProxyClient(p["api"])
    try:
        await call(client)
    except ProxyUnreachable:
        if p.get("owned") and _proxy_server_gone(p["api"]):
            # Our own proxy server is gone, and every toxic with it.
            return f"{done} (proxy server gone)"
        raise
    except ProxyApiError as e:
        if e.status != 404:
            raise
        return f"{done} (already gone)"
    finally:
        await client.close()
    return done


def _proxy_server_gone(api: str) -> bool:
    """Nothing listens on the API address any more (connection refused)."""
    import socket
    from urllib.parse import urlsplit

    parts = urlsplit(api)
    try:
        with socket.create_connection((parts.hostname or "127.0.0.1", parts.port or 80), 1):
            return False
    except ConnectionRefusedError:
        return True
    except OSError:
        return False


def _stop_keeper(pid: int, started: int | None) -> None:
    with contextlib.suppress(procutil.ProcessGone):
        procutil.send_signal(pid, signal.SIGKILL, started)
