"""A lab host as a faultlab host: commands and processes inside its network namespace.

The namespace shares this machine's pid namespace and file system, so identities (pid +
start time), signals and files work as on the local host; what differs is where commands
run (``ip netns exec``, which also gives them the lab's hosts file as /etc/hosts) and which
processes are the host's (those whose network namespace is the host's).

Host reference (in undo records): ``{"kind": "lab", "name": ..., "lab": ..., "host": ...}``.
The host is rebuilt from it after a crash; once the lab is gone, every operation says so
(HostError), and undo actions treat a gone lab as nothing left to undo.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

from pydantic import Field

from faultlab.experiment.types import Name, Strict
from faultlab.hosts.base import CommandResult, HostError, HostKind, ProcessId
from faultlab.hosts.local import LocalHost
from faultlab.lab.net import NETNS_DIR, netns_inode, processes_in
from faultlab.lab.state import HostState, LabState, read_state

__all__ = ["LAB_HOST", "LabHost", "LabHostRef", "lab_env"]


class LabHostRef(Strict):
    """A host of a lab already up (``faultlab lab up``)."""

    kind: Literal["lab"] = Field(description="A host of a faultlab lab.")
    lab: Name = Field(description="The lab's name.")
    host: Name = Field(description="The host's name in the lab.")


def lab_env(state: LabState, host: HostState) -> dict[str, str]:
    """The name -> address map given to every process on a lab host."""
    env = {"FAULTLAB_LAB": state.name, "FAULTLAB_HOST": host.name,
           "FAULTLAB_ADDRESS": host.address, "FAULTLAB_LAB_GATEWAY": state.bridge_address,
           "FAULTLAB_HOSTS_FILE": str(Path("/etc/netns") / host.netns / "hosts")}
    for h in state.hosts:
        env["FAULTLAB_ADDR_" + h.name.upper().replace("-", "_").replace(".", "_")] = h.address
    return env


class LabHost(LocalHost):
    kind = "lab"

    def __init__(self, name: str, lab: str, host: str) -> None:
        super().__init__(name)
        self.lab, self.host = lab, host
        self._state: LabState | None = None
        self._info: HostState | None = None

    @classmethod
    def planned(cls, name: str, state: LabState, host: str) -> LabHost:
        """A host of a lab not made yet, as it will be (for dry runs): its address is
        known, and running anything on it fails (it does not exist)."""
        made = cls(name, state.name, host)
        made._state, made._info = state, state.host(host)
        return made

    def ref(self) -> dict[str, Any]:
        return {**super().ref(), "lab": self.lab, "host": self.host}

    def info(self) -> tuple[LabState, HostState]:
        """The lab's state and this host's entry; HostError if the lab is not up."""
        if self._state is None or self._info is None:
            try:
                state = read_state(self.lab)
            except ValueError as e:
                raise HostError(str(e)) from None
            info = state.host(self.host) if state is not None else None
            if state is None or info is None:
                raise HostError(f"lab '{self.lab}' has no host '{self.host}' (is the lab up? "
                                "see `faultlab lab ls`)")
            self._state, self._info = state, info
        return self._state, self._info

    @property
    def address(self) -> str:
        return self.info()[1].address

    @property
    def netns(self) -> str:
        return self.info()[1].netns

    def exists(self) -> bool:
        """Whether the host's namespace exists (False once its lab is down)."""
        try:
            return (NETNS_DIR / self.netns).exists()
        except HostError:
            return False

    def exec_argv(self, argv: Sequence[str]) -> list[str]:
        if not self.exists():
            raise HostError(f"host '{self.host}' of lab '{self.lab}' is gone (lab down)")
        return ["ip", "netns", "exec", self.netns, *argv]

    def exec_env(self) -> dict[str, str]:
        state, info = self.info()
        return lab_env(state, info)

    async def run(self, argv: Sequence[str], *, timeout: float,
                  env: Mapping[str, str] | None = None, cwd: str | None = None
                  ) -> CommandResult:
        return await super().run(self.exec_argv(argv), timeout=timeout,
                                 env={**self.exec_env(), **(env or {})}, cwd=cwd)

    def spawn_detached(self, argv: Sequence[str]) -> ProcessId:
        return super().spawn_detached(self.exec_argv(argv))

    def _mine(self, found: list[ProcessId]) -> list[ProcessId]:
        inode = netns_inode(self.netns) if self.exists() else None
        if inode is None:
            return []
        inside = set(processes_in(inode))
        return [p for p in found if p.pid in inside]

    def find_by_name(self, name: str) -> list[ProcessId]:
        return self._mine(super().find_by_name(name))

    def processes_with_env(self, key: str, value: str) -> list[ProcessId]:
        return self._mine(super().processes_with_env(key, value))

    def processes(self) -> list[ProcessId]:
        """Every process inside the host's namespace."""
        inode = netns_inode(self.netns) if self.exists() else None
        if inode is None:
            return []
        return [i for pid in processes_in(inode) if (i := self.identify(pid)) is not None]


def _build(name: str, spec: LabHostRef) -> LabHost:
    return LabHost(name, spec.lab, spec.host)


LAB_HOST = HostKind("lab", LabHostRef, _build)

