"""What every lab network fault shares: its targets as lab hosts, the from/to sides, the
lease watchdog, and the one undo action that removes what the fault made.

The undo record (journaled before the inject) names the lab, each host's objects (its nft
table, its root qdisc), the watchdog's identity and, for people, what the fault cuts or
slows. It runs on this machine (``ip netns exec`` into each host); a host or lab that is
gone has nothing left to undo. The watchdog (:mod:`.watchdog`) is started in ``prepare()``,
before anything is applied, and removes the same objects by itself when the lease lapses.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar, TypeVar

from pydantic import Field, model_validator

from faultlab.experiment.types import Micros, Millis, Name
from faultlab.faults.base import Fault, FaultError
from faultlab.faults.spec import FaultSpec, TargetRef
from faultlab.faults.undo import Undo, UndoAction, UndoEnv
from faultlab.hosts import HostError, ProcessId, local_host
from faultlab.lab.host import LabHost
from faultlab.lab.netfaults.kernel import HostObjects, remove_objects

__all__ = [
    "REMOVE_LAB_NET",
    "LabNetFault",
    "LabNetSpec",
    "Micros",
    "Millis",
    "PairsSpec",
    "side_refs",
]





class LabNetSpec(FaultSpec):
    """Base of the lab network faults: their targets are host targets on lab hosts, named in
    the kind's own fields (never ``target:``)."""

    target_kinds: ClassVar[frozenset[str]] = frozenset({"host"})
    exclusive: ClassVar[bool] = False  # nft tables of several faults compose

    @model_validator(mode="after")
    def _no_target(self) -> LabNetSpec:
        if self.target is not None:
            raise ValueError(f"a {self.kind} fault names its hosts in its own fields "
                             "(hosts:, or from: and to:), not target:")
        return self

    def params(self) -> dict[str, Any]:
        data: dict[str, Any] = self.model_dump(mode="json", exclude_none=True, by_alias=True)
        for k in ("kind", "name", "target", "start", "duration"):
            data.pop(k, None)
        return data


def _unique(names: Sequence[str], field: str) -> None:
    seen = set()
    for n in names:
        if n in seen:
            raise ValueError(f"{field}: '{n}' is named twice")
        seen.add(n)


def side_refs(sources: Sequence[str], dests: Sequence[str]) -> list[TargetRef]:
    """Target references of a from:/to: fault, located in the file."""
    refs: list[TargetRef] = [(("from", i), n) for i, n in enumerate(sources)]
    return refs + [(("to", i), n) for i, n in enumerate(dests)]


class PairsSpec(LabNetSpec):
    """A fault between two sides: from every ``from`` host to every ``to`` host (and back
    with ``both_ways``)."""

    sources: list[Name] = Field(alias="from", min_length=1, description="The sending "
                                "side: host targets on lab hosts.")
    dests: list[Name] = Field(alias="to", min_length=1, description="The receiving side.")
    both_ways: bool = Field(default=True, description="Also from the to: side to the from: "
                            "side (false: one way only).")

    @model_validator(mode="after")
    def _sides(self) -> PairsSpec:
        _unique(self.sources, "from")
        _unique(self.dests, "to")
        both = sorted(set(self.sources) & set(self.dests))
        if both:
            raise ValueError(f"{', '.join(both)} on both sides (from: and to:); a host is on "
                             "one side")
        return self

    def target_refs(self) -> list[TargetRef]:
        return side_refs(self.sources, self.dests)

    def directed(self) -> list[tuple[str, str]]:
        """Every (sender, receiver) pair the fault acts on, by target name."""
        pairs = [(s, d) for s in self.sources for d in self.dests]
        if self.both_ways:
            pairs += [(d, s) for s in self.sources for d in self.dests]
        return pairs

    def grouped(self, by_receiver: bool) -> list[tuple[str, list[str]]]:
        """The directed pairs per receiver (its senders) or per sender (its receivers),
        in name order."""
        out: dict[str, list[str]] = {}
        for src, dst in self.directed():
            key, other = (dst, src) if by_receiver else (src, dst)
            out.setdefault(key, []).append(other)
        return [(k, sorted(v)) for k, v in sorted(out.items())]


S = TypeVar("S", bound=LabNetSpec)


class LabNetFault(Fault[S]):
    """prepare(): resolve the lab hosts, decide what to make, start the watchdog, return the
    undo; inject(): make it, all hosts at once."""

    dry_run_safe: ClassVar[bool] = False  # prepare() starts the watchdog

    def lab_hosts(self) -> dict[str, LabHost]:
        """Target name -> its lab host; FaultError unless all are hosts of one lab that is up."""
        out: dict[str, LabHost] = {}
        labs = set()
        by_host: dict[str, str] = {}
        for t in self.targets:
            host = t.host
            if not isinstance(host, LabHost):
                raise FaultError(f"fault '{self.name}': target '{t.name}' is on host "
                                 f"'{host.name}' (kind {host.kind}), not a lab host; "
                                 f"{self.spec.kind} acts on hosts of a faultlab lab")
            try:
                host.info()
            except HostError as e:
                raise FaultError(f"fault '{self.name}': target '{t.name}': {e}") from None
            if host.host in by_host:
                raise FaultError(f"fault '{self.name}': targets '{by_host[host.host]}' and "
                                 f"'{t.name}' are one host ('{host.host}')")
            by_host[host.host] = t.name
            labs.add(host.lab)
            out[t.name] = host
        if len(labs) > 1:
            raise FaultError(f"fault '{self.name}': its hosts are in several labs "
                             f"({', '.join(sorted(labs))}); a network fault acts within one")
        return out

    @property
    def lab(self) -> str:
        return self.target_host(self.targets[0].name).lab

    def target_host(self, name: str) -> LabHost:
        host = self.ctx.targets[name].host
        assert isinstance(host, LabHost)
        return host

    def start_watchdog(self, objects: list[HostObjects], *, directory: Path | None = None,
                       proxy: dict[str, Any] | None = None) -> ProcessId:
        """Start the detached process that removes ``objects`` (and stops the proxy it runs)
        when the lease lapses, whatever happens to this process."""
        plan = {"lease": self.lease, "lab": self.lab, "fault": self.name,
                "objects": [o.to_json() for o in objects],
                "dir": str(directory) if directory else None, "proxy": proxy}
        try:
            return local_host().spawn_detached(
                [sys.executable, "-m", "faultlab.lab.netfaults.watchdog", json.dumps(plan)])
        except HostError as e:
            raise FaultError(f"cannot start the lease watchdog: {e}") from None

    def applied(self) -> str:
        """What the undo record shows (the cut pairs, the loss, the steered connections)."""
        if self.undo is None:
            return ""
        p = self.undo.params
        parts = []
        if "cut" in p:
            parts.append(f"cut {', '.join(p['cut']) or 'nothing'}")
        if "loss" in p:
            parts.append(f"loss {p['loss']}")
        if "pairs" in p:
            parts.append(f"on {', '.join(p['pairs'])}")
        if "steered" in p:
            parts.append(f"steered {', '.join(p['steered'])}")
        return "; ".join(parts)

    def make_undo(self, objects: list[HostObjects], keeper: ProcessId,
                  shown: dict[str, Any], directory: Path | None = None) -> Undo:
        self.undo = Undo(REMOVE_LAB_NET.name, {
            "lab": self.lab, "objects": [o.to_json() for o in objects],
            "keeper": keeper.to_json(), "dir": str(directory) if directory else None,
            **shown}, host=local_host().ref())
        return self.undo


async def _remove(p: dict[str, Any], env: UndoEnv) -> str:
    try:
        lab = str(p["lab"])
        objects = [HostObjects.from_json(o) for o in p.get("objects", [])]
    except (KeyError, ValueError) as e:
        raise FaultError(f"the undo record is damaged: {e}") from None
    done = await remove_objects(lab, objects)
    # Only now: if the removal failed, the watchdog still tries again at the lease.
    if p.get("keeper"):
        with contextlib.suppress(ValueError):  # a damaged record: no keeper to stop
            await env.host.end(ProcessId.from_json(p["keeper"]))
    if p.get("dir"):
        shutil.rmtree(str(p["dir"]), ignore_errors=True)
    return f"lab '{lab}': " + "; ".join(done or ["nothing to undo"])


REMOVE_LAB_NET = UndoAction("remove_lab_net", _remove)
