"""Undo records: how to put a fault back, as data, and the one function that executes them.

An undo record names an **action** (registered by a fault kind, see :class:`UndoAction`),
the **host** it runs on (a host reference, see :mod:`faultlab.hosts`) and the action's
parameters. It is journaled (fsynced) before its fault is applied. :func:`execute_undo`
reverts a fault for the runner, for SIGINT/SIGTERM handling and for ``faultlab recover``
after a crash, so there is one revert path to get right. Every action is idempotent:
removing a toxic that is gone, resuming a process that runs, or touching a process whose
pid now belongs to someone else all succeed without effect.

Secrets: parameters are journaled through the redactor, which writes a value taken from
``${env:NAME}`` as that reference; :func:`execute_undo` resolves references from the
environment first, so a recovered undo acts with the real value and the journal never
holds it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

import msgspec

from faultlab.hosts import Host, host_from_ref

if TYPE_CHECKING:
    from faultlab.system import Services

__all__ = ["Undo", "UndoAction", "UndoEnv", "UndoError", "execute_undo", "find_action"]


class UndoError(Exception):
    """An undo record cannot be executed as written (damaged journal, unknown action)."""


class UndoEnv(msgspec.Struct):
    """What an undo action may use: the host it runs on, and the run's services if the
    runner (not recovery) executes it."""

    host: Host
    services: Services | None = None
    recovering: bool = False


class UndoAction(msgspec.Struct, frozen=True):
    name: str
    execute: Callable[[dict[str, Any], UndoEnv], Awaitable[str]]
    """Revert; returns what was done, for people. Raises only if the fault may still be
    active."""


class Undo(msgspec.Struct, frozen=True):
    action: str
    params: dict[str, Any] = msgspec.field(default_factory=dict)
    host: dict[str, Any] | None = None  # host reference; None means this machine

    def to_json(self) -> dict[str, Any]:
        return {"action": self.action, "host": self.host, "params": self.params}

    @classmethod
    def from_json(cls, data: Any) -> Undo:
        if not isinstance(data, dict):
            raise UndoError(f"an undo record is a JSON object, not {type(data).__name__}")
        action = data.get("action")
        params = data.get("params", {})
        host = data.get("host")
        if not isinstance(action, str) or not isinstance(params, dict) or not (
                host is None or isinstance(host, dict)):
            raise UndoError("the undo record is damaged (action, params or host missing)")
        return cls(action, params, host)


NOTHING = "nothing"


async def _nothing(params: dict[str, Any], env: UndoEnv) -> str:
    return str(params.get("reason", "nothing to undo"))


_BUILTIN = {NOTHING: UndoAction(NOTHING, _nothing)}


def find_action(name: str) -> UndoAction:
    """The action of that name, from the registered fault kinds (entry points included)."""
    from faultlab.faults.registry import FAULT_KINDS

    if name in _BUILTIN:
        return _BUILTIN[name]
    for kind in FAULT_KINDS:
        for action in kind.undo_actions:
            if action.name == name:
                return action
    raise UndoError(f"unknown undo action '{name}' (is the plug-in of its fault kind "
                    "installed?)")


async def execute_undo(undo: Undo, timeout: float, *, services: Services | None = None,
                       recovering: bool = False) -> str:
    """Revert one fault within ``timeout``; returns what was done. Raises if the fault may
    still be active (the caller reports it), UndoError if the record is unusable."""
    import asyncio  # here: validating a file imports this module, and needs no event loop

    from faultlab.journal import resolve

    action = find_action(undo.action)
    try:
        host = host_from_ref(undo.host)
    except ValueError as e:
        raise UndoError(str(e)) from None
    params = resolve(undo.params)
    try:
        return await asyncio.wait_for(
            action.execute(params, UndoEnv(host, services, recovering)), timeout)
    finally:
        await host.close()
