"""``packet_loss`` (nftables ``numgen``), ``net_bandwidth`` (tc htb) and ``net_delay`` (tc
netem, where the kernel has it) between lab hosts.

Loss is decided on the receiver's input, per packet: ``numgen random mod N < K drop`` drops
K packets in N exactly as written (``probability: 12.5%`` is 1 in 8); a value no rule can
express (a denominator above 2^32 - 1) is refused with the nearest one that can, never
rounded. Bandwidth and delay act on the sender's egress: one htb root qdisc per sending
host, one class per destination (its own ``rate``; netem as the class's leaf for a delay),
a u32 filter per destination address; traffic to other hosts is not classified and passes
unshaped. A host has one root qdisc, so these two kinds are exclusive on their hosts.
"""

from __future__ import annotations

from fractions import Fraction
from typing import Annotated, ClassVar, Literal

from pydantic import BeforeValidator, Field, field_validator

from faultlab.experiment.types import ByteRate
from faultlab.faults.base import FaultError
from faultlab.faults.registry import FaultKind
from faultlab.faults.undo import Undo
from faultlab.lab.host import LabHost
from faultlab.lab.netfaults.common import REMOVE_LAB_NET, LabNetFault, Micros, PairsSpec
from faultlab.lab.netfaults.kernel import (
    DEVICE,
    HostObjects,
    all_hosts,
    apply_nft_all,
    apply_tc,
    netem_available,
    new_handle,
    new_table,
)
from faultlab.lab.netfaults.partition import drop_table

__all__ = ["NET_BANDWIDTH", "NET_DELAY", "NO_NETEM", "PACKET_LOSS", "exact_fraction"]

#: numgen's modulus is a 32-bit number
_MOST = 2**32 - 1

NO_NETEM = ("this kernel has no netem qdisc (sch_netem), so packets cannot be delayed in the "
            "kernel; use kind net_latency, which delays TCP between lab hosts through "
            "faultlab's proxy (see docs/lab-network-faults.md)")


def exact_fraction(value: float | str) -> Fraction:
    """A probability as written (``0.1``, ``12.5%``) as an exact fraction."""
    if isinstance(value, str):
        text = value.strip()
        return Fraction(text[:-1]) / 100 if text.endswith("%") else Fraction(text)
    return Fraction(repr(float(value)))


def _probability(value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise ValueError(f"{value!r} is not a probability; write e.g. 10% or 0.1")
    try:
        p = exact_fraction(value)
    except (ValueError, ZeroDivisionError):
        raise ValueError(f"{value!r} is not a probability; write e.g. 10% or 0.1") from None
    if not 0 <= p <= 1:
        raise ValueError(f"probability {value!r} is outside 0..1 (0% to 100%)")
    if p.denominator > _MOST:
        near = p.limit_denominator(_MOST) or Fraction(1, _MOST)
        raise ValueError(f"probability {value!r} is not K in N for any N up to 2^32-1, which "
                         f"is what the kernel's rule applies; e.g. {float(near)!r} "
                         f"({near.numerator} in {near.denominator}) is")
    return float(p)


#: 0 to 1 (or 0% to 100%), applied exactly as written
Probability = Annotated[float, BeforeValidator(_probability)]


class PacketLossSpec(PairsSpec):
    """Drop packets between lab hosts at random, each with ``probability`` (nftables on the
    receiver, by source address)."""

    kind: Literal["packet_loss"]
    probability: Probability = Field(description="Share of packets dropped, e.g. 10% or "
                                     "0.1 (exactly as written: K in N).")


class PacketLossFault(LabNetFault[PacketLossSpec]):
    async def prepare(self) -> Undo:
        hosts = self.lab_hosts()
        p = exact_fraction(self.spec.probability)
        verdict = ("drop" if p == 1 else
                   f"numgen random mod {p.denominator} < {p.numerator} drop")
        objects, self._scripts = [], []
        for dst, srcs in self.spec.grouped(by_receiver=True):
            table = new_table()
            objects.append(HostObjects(hosts[dst].host, table=table))
            sources = [hosts[s].address for s in srcs] if p > 0 else []
            self._scripts.append((hosts[dst], drop_table(table, sources, verdict)))
        keeper = self.start_watchdog(objects)
        return self.make_undo(objects, keeper, {
            "loss": f"{p.numerator} in {p.denominator}",
            "pairs": [f"{s}->{d}" for s, d in self.spec.directed()]})

    async def inject(self) -> None:
        await apply_nft_all(self._scripts)


def htb_tree(handle: str, classes: list[tuple[str, str, list[str] | None]]) -> list[list[str]]:
    """tc commands: an htb root ``handle`` whose unclassified traffic passes unshaped, and per
    (destination address, rate, netem leaf arguments) a class, its filter and its leaf."""
    major = int(handle.rstrip(":"), 16)
    cmds = [["qdisc", "add", "dev", DEVICE, "root", "handle", handle, "htb"]]
    for i, (address, rate, leaf) in enumerate(classes, 1):
        cls = f"{handle}{i:x}"
        cmds.append(["class", "add", "dev", DEVICE, "parent", handle, "classid", cls, "htb",
                     "rate", rate, "ceil", rate])
        if leaf is not None:
            cmds.append(["qdisc", "add", "dev", DEVICE, "parent", cls, "handle",
                         f"{(major + i) & 0xffff:x}:", "netem", *leaf])
        cmds.append(["filter", "add", "dev", DEVICE, "parent", handle, "protocol", "ip",
                     "prio", "1", "u32", "match", "ip", "dst", f"{address}/32", "flowid", cls])
    return cmds


class _ShapingFault(LabNetFault[PairsSpec]):
    """One htb tree per sending host."""

    def shape(self, hosts: dict[str, LabHost]) -> tuple[str, list[str] | None]:
        """This fault's (class rate, netem leaf arguments or None)."""
        raise NotImplementedError

    async def prepare(self) -> Undo:
        hosts = self.lab_hosts()
        rate, leaf = self.shape(hosts)
        objects, self._trees = [], []
        for src, dsts in self.spec.grouped(by_receiver=False):
            handle = new_handle()
            objects.append(HostObjects(hosts[src].host, qdisc=handle))
            self._trees.append((hosts[src], htb_tree(
                handle, [(hosts[d].address, rate, leaf) for d in dsts])))
        keeper = self.start_watchdog(objects)
        return self.make_undo(objects, keeper, {
            "pairs": [f"{s}->{d}" for s, d in self.spec.directed()]})

    async def inject(self) -> None:
        await all_hosts(apply_tc(h, cmds) for h, cmds in self._trees)


class NetBandwidthSpec(PairsSpec):
    """Limit the throughput from each ``from`` host to each ``to`` host (and back with
    ``both_ways``) to ``rate``, per pair (tc htb on the sender)."""

    kind: Literal["net_bandwidth"]
    exclusive: ClassVar[bool] = True  # one root qdisc per host
    rate: ByteRate = Field(description="Bytes per second per pair, e.g. 1MB/s (whole bytes "
                           "per second, at least 1KB/s).")

    @field_validator("rate")
    @classmethod
    def _whole(cls, v: float) -> float:
        if v != int(v) or v < 1000:
            raise ValueError(f"{v:g}B/s: tc applies whole bytes per second, at least 1KB/s; "
                             f"write e.g. {max(1000, round(v))}B/s")
        return v


class NetBandwidthFault(_ShapingFault):
    def shape(self, hosts: dict[str, LabHost]) -> tuple[str, list[str] | None]:
        assert isinstance(self.spec, NetBandwidthSpec)
        return f"{int(self.spec.rate)}bps", None  # tc's "bps" is bytes per second


class NetDelaySpec(PairsSpec):
    """Delay every packet from each ``from`` host to each ``to`` host (and back with
    ``both_ways``) in the kernel (tc netem on the sender); needs netem (see net_latency)."""

    kind: Literal["net_delay"]
    exclusive: ClassVar[bool] = True  # one root qdisc per host
    delay: Micros = Field(description="One-way delay added to each packet (whole "
                          "microseconds).")
    jitter: Micros = Field(default=0.0, description="Uniform spread around the delay.")


class NetDelayFault(_ShapingFault):
    async def check(self) -> list[str]:
        if not netem_available():
            raise FaultError(f"fault '{self.name}': {NO_NETEM}")
        return await super().check()

    def shape(self, hosts: dict[str, LabHost]) -> tuple[str, list[str] | None]:
        if not netem_available():
            raise FaultError(f"fault '{self.name}': {NO_NETEM}")
        assert isinstance(self.spec, NetDelaySpec)
        leaf = ["delay", f"{round(self.spec.delay * 1e6)}us"]
        if self.spec.jitter:
            leaf.append(f"{round(self.spec.jitter * 1e6)}us")
        return "100gbit", leaf


PACKET_LOSS = FaultKind("packet_loss", PacketLossSpec, PacketLossFault, (REMOVE_LAB_NET,))
NET_BANDWIDTH = FaultKind("net_bandwidth", NetBandwidthSpec, NetBandwidthFault,
                          (REMOVE_LAB_NET,))
NET_DELAY = FaultKind("net_delay", NetDelaySpec, NetDelayFault, (REMOVE_LAB_NET,))
