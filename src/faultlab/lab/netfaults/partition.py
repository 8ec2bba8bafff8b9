"""The ``partition`` fault: Jepsen's partitions between lab hosts, with nftables.

The mode decides the grudge (:mod:`.grudge`: for each host, the hosts whose packets it
drops); each host with a grudge gets one table ``inet faultlab_<id>`` whose input chain
drops packets by source address. The grudge is decided in ``prepare()`` (from the run's
seeded generator where the mode is random) and journaled in the undo record, so the report
and ``faultlab recover`` show exactly which pairs were cut.
"""

from __future__ import annotations

import random
from typing import Literal

from pydantic import Field, model_validator

from faultlab.experiment.types import Name
from faultlab.faults.registry import FaultKind
from faultlab.faults.spec import TargetRef
from faultlab.faults.undo import Undo
from faultlab.lab.host import LabHost
from faultlab.lab.netfaults.common import REMOVE_LAB_NET, LabNetFault, LabNetSpec, side_refs
from faultlab.lab.netfaults.grudge import Grudge, Mode, cut_pairs, grudge_for, picture
from faultlab.lab.netfaults.kernel import HostObjects, apply_nft_all, new_table

__all__ = ["PARTITION", "PartitionSpec", "drop_table"]

#: fewest hosts per mode
_LEAST = {Mode.ISOLATE: 2, Mode.HALVES: 2, Mode.RANDOM_HALVES: 2, Mode.MAJORITY_MINORITY: 3,
          Mode.BRIDGE: 3, Mode.MAJORITIES_RING: 4}
_SHUFFLED = (Mode.HALVES, Mode.BRIDGE, Mode.MAJORITIES_RING)


class PartitionSpec(LabNetSpec):
    """Cut the network between lab hosts: each host drops the packets of the hosts it holds
    a grudge against (nftables, by source address), as Jepsen's partitions do."""

    kind: Literal["partition"]
    mode: Mode = Field(description="isolate (one host alone), halves (in list order), "
                       "random_halves, majority_minority, bridge (halves that share one "
                       "host), majorities_ring, or cut (from: -> to:).")
    hosts: list[Name] = Field(default_factory=list, description="The hosts (host targets on "
                              "lab hosts), in order; every mode but cut.")
    node: Name | None = Field(default=None, description="isolate: the host to isolate "
                              "(default: a seeded random pick).")
    minority: list[Name] | None = Field(default=None, description="majority_minority: the "
                                        "minority (default: a seeded random (n-1)/2).")
    shuffle: bool = Field(default=False, description="halves, bridge, majorities_ring: in "
                          "a seeded random order instead of list order.")
    sources: list[Name] = Field(default_factory=list, alias="from", description="cut: the "
                                "hosts whose packets are dropped...")
    dests: list[Name] = Field(default_factory=list, alias="to", description="cut: ...on "
                              "their way to these hosts.")
    both_ways: bool = Field(default=True, description="cut: also drop the to: side's "
                            "packets to the from: side (false: one way only; TCP then fails "
                            "both ways, UDP shows the direction).")

    @model_validator(mode="after")
    def _fields(self) -> PartitionSpec:
        m = self.mode
        if m is Mode.CUT:
            if not self.sources or not self.dests or self.hosts:
                raise ValueError("mode cut takes from: and to: (lists of hosts), not hosts:")
            both = set(self.sources) & set(self.dests)
            if both:
                raise ValueError(f"{', '.join(sorted(both))} on both sides of the cut")
            named = self.sources + self.dests
        else:
            if self.sources or self.dests:
                raise ValueError(f"from:/to: belong to mode cut; mode {m} takes hosts:")
            named = self.hosts
            if len(set(self.hosts)) < _LEAST[m]:
                raise ValueError(f"mode {m} needs at least {_LEAST[m]} different hosts, "
                                 f"not {len(set(self.hosts))}")
        if len(set(named)) != len(named):
            raise ValueError("a host is named twice")
        if self.node is not None and (m is not Mode.ISOLATE or self.node not in self.hosts):
            raise ValueError("node: is the isolated host of mode isolate, one of hosts:")
        if self.minority is not None:
            if m is not Mode.MAJORITY_MINORITY:
                raise ValueError("minority: belongs to mode majority_minority")
            if not set(self.minority) <= set(self.hosts) or not (
                    0 < 2 * len(set(self.minority)) < len(self.hosts)):
                raise ValueError("minority: is fewer than half of hosts:, at least one")
        if self.shuffle and m not in _SHUFFLED:
            raise ValueError(f"shuffle: applies to {', '.join(_SHUFFLED)}; mode {m} "
                             + ("is random already" if m is not Mode.CUT else "has no order"))
        return self

    def target_refs(self) -> list[TargetRef]:
        if self.mode is Mode.CUT:
            return side_refs(self.sources, self.dests)
        refs: list[TargetRef] = [(("hosts", i), n) for i, n in enumerate(self.hosts)]
        return refs

    @property
    def is_random(self) -> bool:
        return (self.shuffle or self.mode is Mode.RANDOM_HALVES
                or (self.mode is Mode.ISOLATE and self.node is None)
                or (self.mode is Mode.MAJORITY_MINORITY and self.minority is None))

    def grudge(self, rng: random.Random) -> Grudge:
        return grudge_for(self.mode, self.hosts, rng, node=self.node, minority=self.minority,
                          shuffle=self.shuffle, sources=self.sources, dests=self.dests,
                          both_ways=self.both_ways)


def drop_table(table: str, sources: list[str], verdict: str = "drop") -> str:
    """An nft script: one table whose input chain applies ``verdict`` (a statement such as
    ``drop`` or ``numgen random mod 10 < 3 drop``) to packets from ``sources``. Priority
    filter - 10: before the usual filter chains (a drop in any base chain is final)."""
    t = f"inet {table}"
    lines = [f"add table {t}",
             f"add chain {t} input {{ type filter hook input priority -10; policy accept; }}"]
    if sources:
        lines.append(f"add rule {t} input ip saddr {{ {', '.join(sources)} }} {verdict}")
    return "\n".join(lines) + "\n"


class PartitionFault(LabNetFault[PartitionSpec]):
    async def check(self) -> list[str]:
        hosts = self.lab_hosts()
        names = list(hosts)
        if self.spec.is_random:
            return [f"partition ({self.spec.mode}) of {', '.join(names)}: the cut is drawn "
                    "from the run's seeded generator when the fault starts"]
        g = self.spec.grudge(random.Random(0))
        return [f"partition ({self.spec.mode}) of {', '.join(names)}; dropped (row sender, "
                "column receiver):", *picture(names, g)]

    async def prepare(self) -> Undo:
        hosts = self.lab_hosts()
        grudge = self.spec.grudge(self.ctx.rng)
        self._scripts: list[tuple[LabHost, str]] = []
        objects = []
        for receiver, senders in sorted(grudge.items()):
            table = new_table()
            host = hosts[receiver]
            objects.append(HostObjects(host.host, table=table))
            self._scripts.append((host, drop_table(table, [hosts[s].address
                                                           for s in sorted(senders)])))
        keeper = self.start_watchdog(objects)
        return self.make_undo(objects, keeper, {
            "mode": self.spec.mode.value,
            "grudge": {r: sorted(s) for r, s in sorted(grudge.items())},
            "cut": [f"{s}->{d}" for s, d in cut_pairs(grudge)]})

    async def inject(self) -> None:
        await apply_nft_all(self._scripts)


PARTITION = FaultKind("partition", PartitionSpec, PartitionFault, (REMOVE_LAB_NET,))
