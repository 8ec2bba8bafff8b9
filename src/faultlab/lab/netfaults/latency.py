"""The ``net_latency`` fault: latency (and jitter) between lab hosts without netem, by
steering their TCP connections through faultlab's proxy.

Each source host gets one nft table whose nat output chain DNATs new connections to
(destination address, port) to a listener of a faultlab proxy on the lab's bridge address
(this machine's end of the lab network); the proxy forwards each to the real destination
with a latency toxic. One listener per (destination, port) serves every source.

Semantics, as netem on the senders' interfaces for the steered ports:

- ``delay`` is the one-way delay of the data from a ``from`` host to a ``to`` host and,
  with ``both_ways`` (the default), of the data back: a request/response round trip over a
  steered connection grows by twice ``delay``. With ``both_ways: false`` only the data
  from ``from`` to ``to`` is delayed, whichever side opened the connection.
- ``jitter``: each chunk's delay is drawn uniformly in delay ± jitter; chunks are never
  reordered (a chunk waits behind the one before it), as TCP would deliver them.
- Only TCP to the listed ``ports`` is steered; other traffic (UDP, ICMP, other ports) is
  untouched. The connection's handshake completes at the proxy: a connect is not delayed,
  and a refused destination shows as a connection closed at once rather than refused.
- The destination sees the bridge address (the proxy) as the peer, not the source host; so
  a partition (which drops by source address) does not cut a steered connection.
- Connections established before the inject are not steered (conntrack keeps their
  mapping) and see no delay; steered connections end at the revert (the proxy stops).

The proxy is a child of the fault's lease watchdog, in its process group: the revert (after
removing the tables) kills the group, and the watchdog stops the proxy by itself when the
lease lapses, so it never outlives the lease.
"""

from __future__ import annotations

import asyncio
import secrets
import shutil
import tempfile
from pathlib import Path
from typing import Any, ClassVar, Literal

from pydantic import Field, field_validator

from faultlab.faults.base import FaultError
from faultlab.faults.registry import FaultKind
from faultlab.faults.undo import Undo
from faultlab.hosts import ProcessId, local_host
from faultlab.lab.host import LabHost
from faultlab.lab.netfaults.common import REMOVE_LAB_NET, LabNetFault, Millis, PairsSpec
from faultlab.lab.netfaults.kernel import HostObjects, apply_nft_all, new_table

__all__ = ["NET_LATENCY", "NetLatencySpec"]

#: how long the proxy may take to start
READY_TIMEOUT = 30.0


class NetLatencySpec(PairsSpec):
    """Delay TCP between lab hosts (to the given ports) by steering it through faultlab's
    proxy with nftables; works without netem."""

    kind: Literal["net_latency"]
    exclusive: ClassVar[bool] = True  # one DNAT per (source, destination, port)
    ports: list[int] = Field(min_length=1, description="The destination TCP ports whose "
                             "connections are steered (the services' ports).")
    delay: Millis = Field(description="One-way delay per direction (whole milliseconds).")
    jitter: Millis = Field(default=0.0, description="Uniform spread around the delay (whole "
                           "milliseconds); never reorders data.")

    @field_validator("ports")
    @classmethod
    def _ports(cls, v: list[int]) -> list[int]:
        if any(not 0 < p < 65536 for p in v) or len(set(v)) != len(v):
            raise ValueError("ports are different TCP ports, 1 to 65535")
        return v


def _toxic(stream: str, spec: NetLatencySpec) -> dict[str, Any]:
    return {"name": f"delay-{stream}", "type": "latency", "stream": stream, "toxicity": 1.0,
            "attributes": {"latency": round(spec.delay * 1000),
                           "jitter": round(spec.jitter * 1000)}}


def dnat_table(table: str, rules: list[tuple[str, int, str]]) -> str:
    """An nft script: new TCP connections to (address, port) go to ``listener`` instead."""
    t = f"inet {table}"
    lines = [f"add table {t}",
             f"add chain {t} output {{ type nat hook output priority -100; policy accept; }}"]
    lines += [f"add rule {t} output ip daddr {address} tcp dport {port} dnat ip to {listener}"
              for address, port, listener in rules]
    return "\n".join(lines) + "\n"


class NetLatencyFault(LabNetFault[NetLatencySpec]):
    def _routes(self) -> list[tuple[str, str]]:
        """Every (source, destination) whose connections are steered: both directions of
        every pair, whatever ``both_ways`` (it decides which data is delayed)."""
        s = self.spec
        return [(a, b) for a in s.sources for b in s.dests] + [
            (b, a) for a in s.sources for b in s.dests]

    def _streams(self, dest: str) -> list[str]:
        if self.spec.both_ways:
            return ["upstream", "downstream"]
        # a connection to a to: host carries from->to data upstream; one to a from: host
        # (opened by a to: host) carries it downstream
        return ["upstream"] if dest in self.spec.dests else ["downstream"]

    async def prepare(self) -> Undo:
        hosts = self.lab_hosts()
        spec = self.spec
        bridge = hosts[spec.sources[0]].info()[0].bridge_address
        dests = sorted({d for _, d in self._routes()})
        config = [{"name": f"{hosts[d].host}-{port}", "listen": f"{bridge}:0",
                   "upstream": f"{hosts[d].address}:{port}", "enabled": True,
                   "toxics": [_toxic(st, spec) for st in self._streams(d)]}
                  for d in dests for port in spec.ports]
        sources = sorted({src for src, _ in self._routes()})
        tables = {src: new_table() for src in sources}
        objects = [HostObjects(hosts[src].host, table=tables[src]) for src in sources]
        directory = Path(tempfile.mkdtemp(prefix="faultlab-net-latency-"))
        try:
            keeper = self.start_watchdog(objects, directory=directory, proxy={
                "config": config, "instance": secrets.token_hex(8)})
        except BaseException:
            shutil.rmtree(directory, ignore_errors=True)
            raise
        try:
            api = await _ready(directory, keeper)
            listeners = await _listeners(api)
        except BaseException:
            await local_host().end(keeper)
            shutil.rmtree(directory, ignore_errors=True)
            raise
        self._scripts: list[tuple[LabHost, str]] = []
        steered = []
        for src in sources:
            rules = []
            for s, d in self._routes():
                if s != src:
                    continue
                for port in spec.ports:
                    listen = listeners[f"{hosts[d].host}-{port}"]
                    rules.append((hosts[d].address, port, listen))
                    steered.append(f"{s}->{d}:{port} via {listen}")
            self._scripts.append((hosts[src], dnat_table(tables[src], rules)))
        return self.make_undo(objects, keeper, {"proxy": api, "steered": steered}, directory)

    async def inject(self) -> None:
        await apply_nft_all(self._scripts)


async def _ready(directory: Path, keeper: ProcessId) -> str:
    """The proxy's API address once it is up (its ready file), or FaultError with its log."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + READY_TIMEOUT
    ready = directory / "ready"
    host = local_host()
    while not ready.exists():
        if not host.is_alive(keeper) or loop.time() >= deadline:
            try:
                log = (directory / "proxy.log").read_text(errors="replace")[-600:]
            except OSError:
                log = ""
            raise FaultError("the proxy for net_latency did not start"
                             + (f"; its log ends with: {log}" if log else ""))
        await asyncio.sleep(0.02)
    return f"http://{ready.read_text().strip()}"


async def _listeners(api: str) -> dict[str, str]:
    from faultlab.proxy.client import ProxyClient

    async with ProxyClient(api) as client:
        proxies = await client.list_proxies()
    return {name: str(info["listen"]) for name, info in proxies.items()}


NET_LATENCY = FaultKind("net_latency", NetLatencySpec, NetLatencyFault, (REMOVE_LAB_NET,))
