"""The ``down`` fault: the endpoint refuses connections and open ones are closed (the proxy
is disabled, with a lease after which the proxy server enables it again by itself)."""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from faultlab.faults.kinds.toxic import ToxicFault, not_sent, proxy_client, proxy_undo
from faultlab.faults.registry import FaultKind
from faultlab.faults.spec import FaultSpec
from faultlab.faults.undo import Undo, UndoAction, UndoEnv

__all__ = ["DOWN"]


class DownSpec(FaultSpec):
    """Refuse connections to the endpoint and close the open ones."""

    target_kinds: ClassVar[frozenset[str]] = frozenset({"proxy"})
    kind: Literal["down"]


class DownFault(ToxicFault):
    async def prepare(self) -> Undo:
        self.undo = Undo(ENABLE_PROXY.name, self._undo_params(await self.instance()))
        return self.undo

    async def inject(self) -> None:
        ep = self.endpoint
        async with proxy_client(ep.api_url, ep.token) as client, not_sent():
            await client.set_enabled(ep.proxy, False, ttl=self.lease)


async def _enable(p: dict[str, Any], env: UndoEnv) -> str:
    return await proxy_undo(p, lambda c: c.set_enabled(p["proxy"], True),
                            f"enabled proxy {p['proxy']}")


ENABLE_PROXY = UndoAction("enable_proxy", _enable)
DOWN = FaultKind("down", DownSpec, DownFault, (ENABLE_PROXY,))
