"""Fault kinds as plug-ins: one registry.

A kind is a :class:`FaultKind`: its spec model (a :class:`~faultlab.faults.spec.FaultSpec`
subclass with ``kind: Literal["<name>"]``), the :class:`~faultlab.faults.base.Fault` class
that applies it, and the undo actions its undo records name. faultlab's own kinds live one
per module, listed in :mod:`faultlab.faults.kinds` (each imported when a file first names
it); third-party packages register theirs with an entry point in the group
``faultlab.faults`` whose value is a ``FaultKind``. Adding a kind touches its module and its
registration only.
"""

from __future__ import annotations

from typing import Any

import msgspec

from faultlab.faults.kinds import KINDS as BUILTIN_KINDS
from faultlab.faults.spec import FaultSpec
from faultlab.faults.undo import UndoAction
from faultlab.plugins import PluginError, Registry, check_kind_literal, discriminated_union

__all__ = ["FAULT_KINDS", "FaultKind", "fault_union"]


class FaultKind(msgspec.Struct, frozen=True):
    name: str
    spec: type[FaultSpec]
    fault: type[Any]  # a Fault subclass taking (spec, ctx)
    undo_actions: tuple[UndoAction, ...] = ()


def _check(kind: FaultKind) -> None:
    check_kind_literal("fault kind", kind.name, kind.spec)
    if not kind.spec.target_kinds and kind.spec.default_target is None:
        raise PluginError(f"fault kind '{kind.name}': its spec declares no target_kinds")


#: faultlab's own kinds are imported one by one, when a file first names them
FAULT_KINDS: Registry[FaultKind] = Registry(
    "fault kind", "faultlab.faults", check=_check, index=BUILTIN_KINDS)


def fault_union() -> Any:
    """The discriminated union of every registered kind's spec (the JSON Schema's)."""
    return discriminated_union(tuple(k.spec for k in FAULT_KINDS))
