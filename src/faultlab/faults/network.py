"""Faults applied through faultlab's proxy (or any Toxiproxy-compatible server).

Each becomes a toxic (or a disabled proxy) with a ``ttl`` equal to the fault's lease: the
proxy server removes it by itself if nobody else does.
"""

from __future__ import annotations

from typing import Any

from faultlab.experiment.model import BandwidthFault, LatencyFault, ResetFault
from faultlab.faults.base import Fault, FaultError, ProxyEndpoint
from faultlab.faults.undo import Undo, UndoKind

__all__ = ["DownProxyFault", "ToxicFault"]


class _ProxyFault(Fault):
    @property
    def endpoint(self) -> ProxyEndpoint:
        try:
            return self.ctx.proxies[self.spec.target]
        except KeyError:
            raise FaultError(f"target '{self.spec.target}' has no proxy set up") from None

    def _base(self) -> dict[str, Any]:
        ep = self.endpoint
        return {"api": ep.api_url, "proxy": ep.proxy, "owned": ep.owned}


class ToxicFault(_ProxyFault):
    """latency, bandwidth and reset, as Toxiproxy toxics named ``faultlab-<fault>``."""

    @property
    def toxic_name(self) -> str:
        return f"faultlab-{self.name}"

    def toxic(self) -> tuple[str, str, dict[str, int]]:
        spec = self.spec
        if isinstance(spec, LatencyFault):
            return "latency", spec.stream.value, {"latency": round(spec.delay * 1000),
                                                   "jitter": round(spec.jitter * 1000)}
        if isinstance(spec, BandwidthFault):
            return "bandwidth", spec.stream.value, {"rate": max(1, round(spec.rate / 1000))}
        if isinstance(spec, ResetFault):
            return "reset_peer", spec.stream.value, {"timeout": round(spec.after * 1000)}
        raise FaultError(f"{spec.kind} is not a toxic")

    async def prepare(self) -> Undo:
        self.undo = Undo(UndoKind.REMOVE_TOXIC, {**self._base(), "toxic": self.toxic_name})
        return self.undo

    async def inject(self) -> None:
        from faultlab.proxy.client import ProxyClient

        kind, stream, attributes = self.toxic()
        client = ProxyClient(self.endpoint.api_url)
        try:
            await client.add_toxic(self.endpoint.proxy, kind, attributes, stream=stream,
                                   name=self.toxic_name, ttl=self.lease)
        finally:
            await client.close()


class DownProxyFault(_ProxyFault):
    """The endpoint refuses connections, and open ones are closed (proxy disabled)."""

    async def prepare(self) -> Undo:
        self.undo = Undo(UndoKind.ENABLE_PROXY, self._base())
        return self.undo

    async def inject(self) -> None:
        from faultlab.proxy.client import ProxyClient

        client = ProxyClient(self.endpoint.api_url)
        try:
            await client.set_enabled(self.endpoint.proxy, False, ttl=self.lease)
        finally:
            await client.close()
