"""``POST /populate`` and ``--config``: many proxies at once, all or nothing.

Toxiproxy applies the entries one by one and stops at the first failure, leaving the
earlier ones applied. Here the work is split in two phases under the registry's lock:

1. **Prepare** (may fail, changes nothing): validate every entry (done by the schema),
   let a name listed again replace its earlier entry (the last one wins, as Toxiproxy's
   in-order apply ends up), resolve every listen address and bind a listening socket for
   every entry that needs a new one. Any failure closes the sockets bound so far and
   raises; no proxy was touched.
2. **Commit** (cannot fail): stop the proxies being replaced, install the new ones on the
   sockets bound in phase 1, add their toxics.

An entry whose name exists with the same resolved listen address and upstream is left
untouched (its toxics and enabled state too), as in Toxiproxy, except that an ``observe``
given in the entry is applied; otherwise the old proxy is replaced and its toxics (and its
observations) are lost. A replacement that keeps its predecessor's listen address
takes over its listening socket (so the port never goes free). A new listen address that is
held by another proxy being replaced in the same request is a bind failure: the request is
refused as a whole.
"""

from __future__ import annotations

import contextlib
import socket
from dataclasses import dataclass
from typing import TYPE_CHECKING

from faultlab.proxy.addresses import HostPort, ListenError, bind_listener, resolve_listen
from faultlab.proxy.model import ApiError
from faultlab.proxy.schema import ProxyCreate, ToxicCreate

if TYPE_CHECKING:
    from faultlab.proxy.listener import Proxy
    from faultlab.proxy.registry import Registry

__all__ = ["populate"]

Entry = tuple[ProxyCreate, list[ToxicCreate]]


@dataclass
class _Plan:
    request: ProxyCreate
    toxics: list[ToxicCreate]
    existing: Proxy | None
    keep: bool = False  # leave ``existing`` untouched
    adopt: bool = False  # take over ``existing``'s listening socket
    sock: socket.socket | None = None  # bound in the prepare phase


async def _prepare(registry: Registry, entries: list[Entry],
                   bound: list[socket.socket]) -> list[_Plan]:
    """One plan per distinct name, in the order of first appearance."""
    plans: dict[str, _Plan] = {}
    for request, toxics in entries:
        # A name listed again replaces its earlier entry, as Toxiproxy's in-order apply
        # ends up: the last one wins. Its socket (if any) is released first.
        earlier = plans.get(request.name)
        if earlier is not None and earlier.sock is not None:
            bound.remove(earlier.sock)
            earlier.sock.close()
        plan = _Plan(request, toxics, registry.proxies.get(request.name))
        plans[request.name] = plan
        wanted = await resolve_listen(HostPort.parse(request.listen))
        old = plan.existing
        same_place = old is not None and wanted == HostPort.parse(old.listen)
        if old is not None and same_place and old.upstream == request.upstream:
            plan.keep = True
        elif request.enabled:
            if old is not None and same_place and old.enabled:
                plan.adopt = True
            else:
                plan.sock = await bind_listener(wanted)
                bound.append(plan.sock)
    return list(plans.values())


async def populate(registry: Registry, entries: list[Entry]) -> list[Proxy]:
    """Apply ``entries`` entirely or not at all; the caller holds the registry's lock.

    Raises :class:`ApiError`: 400 for an invalid request, 500 for an address that cannot
    be resolved or bound (nothing has changed then).
    """
    bound: list[socket.socket] = []
    try:
        plans = await _prepare(registry, entries, bound)
    except BaseException as exc:
        for bound_sock in bound:
            with contextlib.suppress(OSError):
                bound_sock.close()
        if isinstance(exc, ListenError):
            raise ApiError(400 if exc.client_error else 500, str(exc)) from None
        if isinstance(exc, OSError):
            raise ApiError(500, str(exc)) from None
        raise
    final: dict[str, Proxy] = {}
    for plan in plans:
        if plan.keep and plan.existing is not None:
            if plan.request.observe is not None:  # given: a change that cannot fail
                plan.existing.observe = plan.request.observe
            final[plan.request.name] = plan.existing
            continue
        sock: socket.socket | None = plan.sock
        if plan.existing is not None:
            kept = await plan.existing.stop(keep_listener=plan.adopt)
            sock = kept if plan.adopt else sock
            registry.forget(plan.existing)
        proxy = await registry.install(plan.request, sock)
        for toxic in plan.toxics:
            registry.install_toxic(proxy, toxic)
        final[proxy.name] = proxy
    # One per entry, in order, as Toxiproxy answers; a repeated name shows its final proxy.
    return [final[request.name] for request, _ in entries]

