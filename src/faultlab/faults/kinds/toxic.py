"""Faults that are toxics on a proxy (faultlab's or any Toxiproxy-compatible server).

Each becomes one toxic named ``faultlab-<fault>`` with a ``ttl`` equal to the fault's lease:
the proxy server removes it by itself if nobody else does. A kind module defines only its
spec: the toxic type, and its parameters turned into the toxic's attributes.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from enum import StrEnum
from typing import Any, ClassVar

from pydantic import Field

from faultlab.experiment.types import Ratio, whole
from faultlab.faults.base import Fault, FaultError, NotApplied, ProxyEndpoint
from faultlab.faults.spec import FaultSpec
from faultlab.faults.undo import Undo, UndoAction, UndoEnv

__all__ = [
    "REMOVE_TOXIC",
    "HttpMatch",
    "Stream",
    "ToxicFault",
    "ToxicSpec",
    "not_sent",
    "proxy_client",
    "whole",
]


class Stream(StrEnum):
    UPSTREAM = "upstream"  # client -> server
    DOWNSTREAM = "downstream"  # server -> client


# whole, Millis and Micros live in faultlab.experiment.types (lab faults use them too)


def ms(seconds: float) -> int:
    return round(seconds / 1e-3)


class ToxicSpec(FaultSpec):
    target_kinds: ClassVar[frozenset[str]] = frozenset({"proxy"})
    toxic_type: ClassVar[str]

    stream: Stream = Field(default=Stream.DOWNSTREAM, description="Direction it acts on: "
                           "downstream (server to client) or upstream (client to server).")
    toxicity: Ratio = Field(default=1.0, description="Share of connections it applies to "
                            "(decided once per connection).")

    def attributes(self) -> dict[str, int | str]:
        """The toxic's attributes in the proxy's units."""
        return {}


class HttpMatch(ToxicSpec):
    """Base of the HTTP-level toxics: which requests they act on."""

    stream: Stream = Field(default=Stream.UPSTREAM, description="HTTP faults read "
                           "requests, which flow upstream.")
    method: str = Field(default="", max_length=32, pattern=r"^[A-Za-z]*$",
                        description="Only requests with this method (empty: any).")
    path_prefix: str = Field(default="", max_length=2048, pattern=r"^(/[^\s]*)?$",
                             description="Only requests whose path starts with this "
                             "(empty: any).")

    def _match(self) -> dict[str, str]:
        return {"method": self.method.upper(), "path_prefix": self.path_prefix}


def proxy_client(api: str, token: str | None = None) -> Any:
    from faultlab.proxy.client import ProxyClient

    return ProxyClient(api, token=token)


class ToxicFault(Fault[ToxicSpec]):
    @property
    def endpoint(self) -> ProxyEndpoint:
        try:
            return self.ctx.proxies[self.target.name]
        except KeyError:
            raise FaultError(f"target '{self.target.name}' has no proxy set up") from None

    @property
    def toxic_name(self) -> str:
        return f"faultlab-{self.name}"

    async def instance(self) -> str | None:
        """The identity of the server the undo will talk to: known for the run's own
        server; asked of an external one (None if it reports none, as Toxiproxy)."""
        ep = self.endpoint
        if ep.instance is not None or ep.owned:
            return ep.instance
        try:
            async with proxy_client(ep.api_url, ep.token) as client:
                found: str | None = await client.instance()
                return found
        except Exception:  # unreachable now: the inject will say so
            return None

    def _undo_params(self, instance: str | None) -> dict[str, Any]:
        ep = self.endpoint
        return {"api": ep.api_url, "proxy": ep.proxy, "owned": ep.owned,
                "instance": instance, "token": ep.token}

    async def prepare(self) -> Undo:
        params = self._undo_params(await self.instance())
        self.undo = Undo(REMOVE_TOXIC.name, {**params, "toxic": self.toxic_name})
        return self.undo

    async def inject(self) -> None:
        ep = self.endpoint
        async with proxy_client(ep.api_url, ep.token) as client, not_sent():
            await client.add_toxic(ep.proxy, self.spec.toxic_type, self.spec.attributes(),
                                   stream=self.spec.stream.value,
                                   toxicity=self.spec.toxicity, name=self.toxic_name,
                                   ttl=self.lease)


@contextlib.asynccontextmanager
async def not_sent() -> AsyncIterator[None]:
    """A request that never reached the server is a fault that was certainly not applied."""
    from faultlab.proxy.client import ProxyUnreachable

    try:
        yield
    except ProxyUnreachable as e:
        if not e.sent:
            raise NotApplied(str(e)) from None
        raise


async def proxy_undo(p: dict[str, Any], call: Any, done: str) -> str:
    """Run one call against the proxy server an undo record names, having checked that it is
    the very server the run used (its instance id); a different server now on that address,
    or none, means the run's server and its faults are gone."""
    from faultlab.proxy.client import ProxyApiError, ProxyUnreachable

    async with proxy_client(p["api"], p.get("token")) as client:
        try:
            if p.get("instance"):
                instance = await client.instance()
                if instance != p["instance"]:
                    return (f"{done}: nothing to do (the run's proxy server is gone; "
                            f"{p['api']} is now another server)")
            await call(client)
        except ProxyUnreachable:
            if p.get("owned"):
                return f"{done}: nothing to do (the run's proxy server is gone)"
            raise
        except ProxyApiError as e:
            if e.status != 404:
                raise
            return f"{done} (already gone)"
    return done


async def _remove_toxic(p: dict[str, Any], env: UndoEnv) -> str:
    return await proxy_undo(p, lambda c: c.remove_toxic(p["proxy"], p["toxic"]),
                            f"removed toxic {p['toxic']}")


REMOVE_TOXIC = UndoAction("remove_toxic", _remove_toxic)
