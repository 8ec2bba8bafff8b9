"""Hosts: where targets live, and through which every fault acts (see :mod:`.base`).

Host kinds are plug-ins (entry point group ``faultlab.hosts``, value a
:class:`~faultlab.hosts.base.HostKind`). The host named ``local`` (this machine) always exists.
"""

from __future__ import annotations

from typing import Any

from faultlab.hosts.base import CommandResult, Host, HostError, HostKind, ProcessGone, ProcessId
from faultlab.plugins import Registry

__all__ = ["HOST_KINDS", "CommandResult", "Host", "HostError", "HostKind", "ProcessGone",
           "ProcessId", "host_from_ref", "local_host"]

HOST_KINDS: Registry[HostKind] = Registry("host kind", "faultlab.hosts",
                                          builtins=("faultlab.hosts.builtin",))


def local_host() -> Host:
    from faultlab.hosts.local import LocalHost

    return LocalHost("local")


def host_from_ref(ref: Any) -> Host:
    """Rebuild a host from the reference an undo record carries; ValueError if unusable."""
    if ref is None:
        return local_host()  # records written before hosts were named
    if not isinstance(ref, dict) or not isinstance(ref.get("kind"), str):
        raise ValueError(f"not a host reference: {ref!r}")
    kind = HOST_KINDS.get(ref["kind"])
    if kind is None:
        raise ValueError(f"unknown host kind '{ref['kind']}' (is its plug-in installed?)")
    spec = kind.spec.model_validate({k: v for k, v in ref.items() if k != "name"})
    return kind.host(str(ref.get("name", ref["kind"])), spec)
