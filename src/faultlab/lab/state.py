"""What a lab is made of, on disk: written before anything is created, so that whatever the
moment of a crash, ``faultlab lab down`` knows every name to remove.

``/run/faultlab/labs/<lab>/state.json`` (``/run`` is cleared at boot, as network namespaces
are) holds the kernel names (namespaces, veths, bridge), the addresses and the processes
started inside. One lock file serialises every change of any lab on the machine, so two
``lab up`` at once cannot take the same name or subnet.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import secrets
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, ValidationError

from faultlab.lab.spec import LabSpec

__all__ = ["LAB_DIR", "HostState", "LabState", "ProcessState", "all_labs", "lab_dir", "lock",
           "new_state", "read_state", "remove_state", "write_state"]

#: where labs are recorded
LAB_DIR = Path("/run/faultlab/labs")


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class HostState(_Model):
    name: str
    netns: str  # network namespace (/run/netns/<netns>)
    veth: str  # the machine's end of the host's veth pair (the host's end is eth0)
    address: str


class ProcessState(_Model):
    host: str
    name: str
    pid: int
    started: int  # start time (clock ticks since boot): pid + start time is the identity
    log: str


class LabState(_Model):
    version: Literal[1] = 1
    name: str
    id: str  # short random id in kernel names (interface names have 15 characters)
    subnet: str
    bridge: str
    bridge_address: str  # this machine's address on the lab network
    hosts: list[HostState]
    processes: list[ProcessState] = []
    status: Literal["creating", "up", "removing"] = "creating"
    owner: str | None = None  # the marker of the run that owns it (experiment labs)
    created: float
    spec: dict[str, object]

    def host(self, name: str) -> HostState | None:
        return next((h for h in self.hosts if h.name == name), None)

    @property
    def prefixlen(self) -> int:
        return int(self.subnet.rsplit("/", 1)[1])

    def names(self) -> dict[str, str]:
        """Host name -> address."""
        return {h.name: h.address for h in self.hosts}


def lab_dir(name: str) -> Path:
    return LAB_DIR / name


@contextlib.contextmanager
def lock() -> Iterator[None]:
    LAB_DIR.mkdir(parents=True, exist_ok=True)
    with open(LAB_DIR / ".lock", "a+b") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def new_state(spec: LabSpec, subnet: str, owner: str | None) -> LabState:
    lab_id = secrets.token_hex(3)
    addresses, bridge_address = spec.addresses(subnet)
    hosts = [HostState(name=name, netns=f"fl-{spec.name}-{name}", veth=f"fl{lab_id}v{i}",
                       address=addresses[name]) for i, name in enumerate(spec.hosts)]
    return LabState(name=spec.name, id=lab_id, subnet=subnet, bridge=f"fl{lab_id}br",
                    bridge_address=bridge_address, hosts=hosts, owner=owner,
                    created=time.time(), spec=spec.model_dump(mode="json"))


def write_state(state: LabState) -> None:
    """Atomically and durably (temp file, fsync, rename)."""
    folder = lab_dir(state.name)
    folder.mkdir(parents=True, exist_ok=True)
    tmp = folder / "state.json.tmp"
    with open(tmp, "w") as f:
        f.write(state.model_dump_json(indent=1))
        f.flush()
        os.fsync(f.fileno())
    tmp.replace(folder / "state.json")


def read_state(name: str) -> LabState | None:
    """The lab's state; None if there is no such lab. A damaged file raises ValueError."""
    path = lab_dir(name) / "state.json"
    try:
        text = path.read_text()
    except FileNotFoundError:
        return None
    except OSError as e:
        raise ValueError(f"cannot read {path}: {e.strerror}") from None
    try:
        return LabState.model_validate(json.loads(text))
    except (ValueError, ValidationError) as e:
        raise ValueError(f"{path} is damaged ({str(e).splitlines()[0]})") from None


def all_labs() -> list[str]:
    if not LAB_DIR.is_dir():
        return []
    return sorted(p.name for p in LAB_DIR.iterdir() if p.is_dir())


def remove_state(name: str) -> None:
    shutil.rmtree(lab_dir(name), ignore_errors=True)
