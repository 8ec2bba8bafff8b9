"""The kernel side of lab network faults: nftables tables and tc qdiscs inside a lab host's
namespace, each made in one atomic step and removed idempotently, and the netem probe.

Every fault owns its objects by name: an nft table ``inet faultlab_<id>`` and a root qdisc
whose handle it picked, per host. Removing them is safe at any time and any number of
times: a table is removed as ``add table; delete table`` in one transaction (which succeeds
whether or not it existed), a qdisc only if the root qdisc still carries the fault's handle,
and a host whose namespace (or whole lab) is gone has nothing left to remove.
"""

from __future__ import annotations

import asyncio
import functools
import json
import secrets
import subprocess
from collections.abc import Awaitable, Iterable
from dataclasses import dataclass
from typing import Any

from faultlab.faults.base import FaultError
from faultlab.hosts import CommandResult, HostError
from faultlab.lab.host import LabHost

__all__ = [
    "COMMAND_TIMEOUT",
    "DEVICE",
    "TABLE_PREFIX",
    "Gone",
    "HostObjects",
    "all_hosts",
    "apply_nft",
    "apply_nft_all",
    "apply_tc",
    "netem_available",
    "new_handle",
    "new_table",
    "remove_objects",
]

#: the interface of every lab host
DEVICE = "eth0"
#: every table a lab network fault makes is named so (tests and people look for it)
TABLE_PREFIX = "faultlab_"
#: time one nft or tc invocation may take
COMMAND_TIMEOUT = 15.0


class Gone(Exception):
    """The host's namespace (or its lab) no longer exists."""


def new_table() -> str:
    return f"{TABLE_PREFIX}{secrets.token_hex(4)}"


def new_handle() -> str:
    """A root qdisc handle (major number, hex) unlikely to be anyone else's."""
    return f"{0x1000 + secrets.randbelow(0xe000):x}:"


@dataclass(frozen=True)
class HostObjects:
    """What one fault made on one host: its nft table and/or its root qdisc handle."""

    host: str  # the host's name in the lab
    table: str | None = None
    qdisc: str | None = None  # handle, e.g. "1a2b:"

    def to_json(self) -> dict[str, Any]:
        return {"host": self.host, "table": self.table, "qdisc": self.qdisc}

    @classmethod
    def from_json(cls, data: Any) -> HostObjects:
        if not isinstance(data, dict) or not isinstance(data.get("host"), str):
            raise ValueError(f"not a host's objects: {data!r}")
        table, qdisc = data.get("table"), data.get("qdisc")
        if table is not None and not (isinstance(table, str)
                                      and table.startswith(TABLE_PREFIX)):
            raise ValueError(f"not a faultlab table: {table!r}")
        if qdisc is not None and not isinstance(qdisc, str):
            raise ValueError(f"not a qdisc handle: {qdisc!r}")
        return cls(data["host"], table, qdisc)


async def _run(host: LabHost, argv: list[str]) -> CommandResult:
    """Run inside the host; Gone if its namespace is gone (before or while it ran)."""
    if not host.exists():
        raise Gone(host.host)
    try:
        result = await host.run(argv, timeout=COMMAND_TIMEOUT)
    except HostError as e:
        if not host.exists():
            raise Gone(host.host) from None
        raise FaultError(f"host '{host.host}': {e}") from None
    if result.returncode != 0 and not host.exists():
        raise Gone(host.host)
    return result


async def apply_nft(host: LabHost, script: str) -> None:
    """Apply an nft script (one transaction: all of it or nothing)."""
    try:
        result = await _run(host, ["nft", script])
    except Gone:
        raise FaultError(f"host '{host.host}' of lab '{host.lab}' is gone (lab down?)") from None
    if result.returncode != 0:
        raise FaultError(f"host '{host.host}': nft refused the rules: {result.tail()}")


async def all_hosts(steps: Iterable[Awaitable[None]]) -> None:
    """Run one step per host, all at once, each to its end; FaultError naming every one that
    failed."""
    results = await asyncio.gather(*steps, return_exceptions=True)
    errors = [e for e in results if isinstance(e, BaseException)]
    for e in errors:
        if not isinstance(e, FaultError):
            raise e
    if errors:
        raise FaultError("; ".join(str(e) for e in errors))


async def apply_nft_all(scripts: list[tuple[LabHost, str]]) -> None:
    """Apply each host's script, all hosts at once."""
    await all_hosts(apply_nft(h, s) for h, s in scripts)


async def apply_tc(host: LabHost, commands: list[list[str]]) -> None:
    """Run tc commands in order; the first one makes the root qdisc, so a failure later
    leaves only what the fault's undo removes."""
    for argv in commands:
        try:
            result = await _run(host, ["tc", *argv])
        except Gone:
            raise FaultError(f"host '{host.host}' of lab '{host.lab}' is gone") from None
        if result.returncode != 0:
            tail = result.tail()
            if "NLM_F_REPLACE" in tail or "Exclusivity" in tail:
                tail += (f" (host '{host.host}' already has a root qdisc on {DEVICE}: another "
                         "net_bandwidth or net_delay fault on it at the same time?)")
            raise FaultError(f"host '{host.host}': tc {' '.join(argv)}: {tail}")


async def _remove_one(lab: str, objects: HostObjects) -> str:
    host = LabHost(objects.host, lab, objects.host)
    done = []
    try:
        if objects.table is not None:
            t = f"inet {objects.table}"
            result = await _run(host, ["nft", f"add table {t}; delete table {t}"])
            if result.returncode != 0:
                raise FaultError(f"host '{objects.host}': cannot remove table {t}: "
                                 f"{result.tail()}")
            done.append(f"table {objects.table}")
        if objects.qdisc is not None:
            shown = await _run(host, ["tc", "-j", "qdisc", "show", "dev", DEVICE])
            ours = shown.returncode == 0 and any(
                q.get("root") and q.get("handle") == objects.qdisc
                for q in _json_list(shown.stdout))
            if ours:
                result = await _run(host, ["tc", "qdisc", "del", "dev", DEVICE, "root",
                                           "handle", objects.qdisc])
                if result.returncode != 0 and "Invalid handle" not in result.tail():
                    raise FaultError(f"host '{objects.host}': cannot remove qdisc "
                                     f"{objects.qdisc}: {result.tail()}")
                done.append(f"qdisc {objects.qdisc}")
    except Gone:
        return f"{objects.host}: nothing to undo (host gone)"
    return f"{objects.host}: removed {', '.join(done) or 'nothing'}"


def _json_list(text: str) -> list[dict[str, Any]]:
    try:
        value = json.loads(text)
    except ValueError:
        return []
    return [v for v in value if isinstance(v, dict)] if isinstance(value, list) else []


async def remove_objects(lab: str, objects: list[HostObjects]) -> list[str]:
    """Remove every host's objects concurrently; raises FaultError (after trying all) if any
    may still be in place."""
    results = await asyncio.gather(*(_remove_one(lab, o) for o in objects),
                                   return_exceptions=True)
    errors = [r for r in results if isinstance(r, BaseException)]
    for r in errors:
        if not isinstance(r, FaultError | HostError):
            raise r
    if errors:
        raise FaultError("; ".join(str(e) for e in errors))
    return [r for r in results if isinstance(r, str)]


@functools.cache
def netem_available() -> bool:
    """Whether this kernel has the netem qdisc: tried on the loopback of a throwaway network
    namespace (``unshare -n``: nothing to clean up, whatever happens). Cached."""
    try:
        proc = subprocess.run(["unshare", "-n", "tc", "qdisc", "add", "dev", "lo", "root",
                               "netem", "delay", "1ms"], capture_output=True, text=True,
                              timeout=COMMAND_TIMEOUT)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return proc.returncode == 0
