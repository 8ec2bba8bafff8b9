"""The proxies of one server, every change made to them, and the leases that undo faults.

Invariants:

* Every change runs under one lock, so API calls and lease expiries never interleave half
  way. Nothing done under the lock waits on a peer: toxic changes are synchronous, and
  stopping a proxy only cancels its tasks and closes sockets (Toxiproxy can hang its whole
  API on a blocked channel send while it holds its lock, #558).
* A lease is state on the object it undoes (``Proxy.reenable_at``, ``Proxy.toxic_expiry``).
  The lease task only reads that state, so deleting a toxic or a proxy deletes its lease,
  and a toxic re-added under the same name does not inherit the old one. Leases are kept
  by this process alone, so they lapse even when the client that set them is gone.
* A request that fails changes nothing: whatever can fail (resolving, binding) is done
  before the first change (see :meth:`Registry.update_proxy` and ``populate``).
* If re-enabling a proxy fails (its port was taken meanwhile) the lease is retried every
  ``LEASE_RETRY`` seconds and each failure is logged; a fault is never silently kept.
* Every change is logged as one event line.
"""

from __future__ import annotations

import asyncio
import secrets
import socket
from typing import Any

from faultlab.clock import Clock, MonotonicClock
from faultlab.proxy.addresses import (
    AddressError,
    HostPort,
    ListenError,
    bind_listener,
    resolve_listen,
)
from faultlab.proxy.events import EventLog
from faultlab.proxy.listener import Proxy, RequestTracer
from faultlab.proxy.metrics import MetricsCollector
from faultlab.proxy.model import ApiError, ToxicSpec
from faultlab.proxy.populate import populate
from faultlab.proxy.relay import RelayLimits
from faultlab.proxy.schema import (
    ProxyCreate,
    ProxyUpdate,
    ToxicCreate,
    ToxicUpdate,
    Unset,
    apply_toxic_update,
    proxy_json,
    toxic_json,
)

__all__ = ["Registry"]

LEASE_RETRY = 1.0


def _start_error(exc: OSError | AddressError) -> ApiError:
    """400 for the request's fault (a malformed address, a host that does not exist), 500
    for the machine's (address in use or not local), with Go's wording as Toxiproxy."""
    client = isinstance(exc, AddressError) or (isinstance(exc, ListenError)
                                               and exc.client_error)
    return ApiError(400 if client else 500, str(exc))


class Registry:
    def __init__(self, *, events: EventLog, seed: int | None = None, clock: Clock | None = None,
                 limits: RelayLimits | None = None, tracer: RequestTracer | None = None
                 ) -> None:
        self.seed = secrets.randbits(63) if seed is None else seed
        self.tracer = tracer
        self.events = events
        self.clock: Clock = clock or MonotonicClock()
        self.limits = limits or RelayLimits()
        self.proxies: dict[str, Proxy] = {}
        self._lock = asyncio.Lock()
        self._leases_changed = asyncio.Event()
        self._lease_task: asyncio.Task[None] | None = None
        self.metrics = MetricsCollector(lambda: list(self.proxies.values()))

    async def start(self) -> None:
        self._lease_task = asyncio.create_task(self._lease_loop(), name="proxy leases")

    async def close(self) -> None:
        """Stop the lease task and every proxy (listeners and connections)."""
        if self._lease_task is not None:
            self._lease_task.cancel()
            await asyncio.wait([self._lease_task])
        async with self._lock:
            for proxy in self.proxies.values():
                await proxy.stop()

    # ------------------------------------------------------------------------ reading

    def get(self, name: str) -> Proxy:
        try:
            return self.proxies[name]
        except KeyError:
            raise ApiError(404, "proxy not found") from None

    def _toxic(self, proxy: Proxy, name: str) -> ToxicSpec:
        spec = proxy.toxic(name)
        if spec is None:
            raise ApiError(404, "toxic not found")
        return spec

    def proxy_json(self, proxy: Proxy) -> dict[str, Any]:
        return proxy_json(proxy, self.clock.now())

    def toxic_json(self, proxy: Proxy, spec: ToxicSpec) -> dict[str, Any]:
        return toxic_json(spec, proxy.toxic_expiry.get(spec.name), self.clock.now())

    # ------------------------------------------------------------------------ proxies

    async def create_proxy(self, request: ProxyCreate,
                           toxics: list[ToxicCreate] | None = None) -> Proxy:
        async with self._lock:
            if request.name in self.proxies:
                raise ApiError(409, "proxy already exists")
            proxy = await self.install(request, None)
            for toxic in toxics or []:
                self.install_toxic(proxy, toxic)
            return proxy

    async def install(self, request: ProxyCreate, sock: socket.socket | None) -> Proxy:
        """Create, start (on ``sock`` if given) and register a proxy; the lock is held."""
        proxy = Proxy(request.name, request.listen, request.upstream, seed=self.seed,
                      limits=self.limits, events=self.events, observe=bool(request.observe),
                      tracer=self.tracer)
        if request.enabled:
            try:
                await proxy.start(sock)
            except (OSError, AddressError) as exc:
                raise _start_error(exc) from None
        elif request.ttl is not None:
            proxy.reenable_at = self.clock.now() + request.ttl
            self._leases_changed.set()
        self.proxies[proxy.name] = proxy
        self.events.emit("proxy_created", proxy=proxy.name, listen=proxy.listen,
                         upstream=proxy.upstream, enabled=proxy.enabled, ttl=request.ttl,
                         **({"observe": True} if proxy.observe else {}))
        return proxy

    def forget(self, proxy: Proxy) -> None:
        """Unregister a stopped proxy (its leases go with it); the lock is held."""
        del self.proxies[proxy.name]
        self._leases_changed.set()
        self.events.emit("proxy_deleted", proxy=proxy.name)

    async def populate(self, entries: list[tuple[ProxyCreate, list[ToxicCreate]]]
                       ) -> list[Proxy]:
        """``/populate``: all entries or none; see :mod:`faultlab.proxy.populate`."""
        async with self._lock:
            return await populate(self, entries)

    async def update_proxy(self, name: str, request: ProxyUpdate) -> Proxy:
        """Toxiproxy's semantics: a new listen or upstream restarts the proxy (dropping its
        connections); ``enabled`` stops or starts it; toxics survive both.

        Unlike Toxiproxy, a request that fails changes nothing: the new listen address is
        resolved and its socket bound *before* the proxy is touched (prepare), and only
        then is it stopped and restarted on that socket (commit, which cannot fail). So a
        move to a port in use answers 500 and the proxy keeps serving where it was.
        """
        async with self._lock:
            proxy = self.get(name)
            enabled = proxy.enabled if request.enabled is None else request.enabled
            listen = request.listen or proxy.listen
            upstream = request.upstream or proxy.upstream
            moved_listen = False
            if request.listen is not None:
                try:
                    wanted = await resolve_listen(HostPort.parse(request.listen))
                except (OSError, AddressError) as exc:
                    raise _start_error(exc) from None
                # Port 0 never equals the bound port: a restart, as in Toxiproxy.
                moved_listen = wanted != HostPort.parse(proxy.listen)
            moved = moved_listen or upstream != proxy.upstream
            # Prepare: everything that can fail, before any change.
            sock: socket.socket | None = None
            if enabled and (moved_listen or not proxy.enabled):
                sock = await self._bind_for(proxy, listen)
            # Commit.
            if moved or not enabled:
                kept = await proxy.stop(keep_listener=enabled and not moved_listen)
                sock = sock or kept
            if moved_listen:
                proxy.listen = listen
            proxy.upstream = upstream
            if request.observe is not None:
                proxy.observe = request.observe  # for the connections accepted from now on
            if enabled:
                proxy.reenable_at = None
                await proxy.start(sock)
            elif request.enabled is False:
                proxy.reenable_at = (None if request.ttl is None
                                     else self.clock.now() + request.ttl)
            self._leases_changed.set()
            self.events.emit("proxy_updated", proxy=name, listen=proxy.listen,
                             upstream=proxy.upstream, enabled=proxy.enabled, ttl=request.ttl,
                             **({} if request.observe is None else {"observe": request.observe}))
            return proxy

    async def _bind_for(self, proxy: Proxy, listen: str) -> socket.socket:
        """A socket bound to ``listen`` for ``proxy``; ApiError (nothing changed) if not.

        A new address may overlap the proxy's own listener (``127.0.0.1:5000`` ->
        ``0.0.0.0:5000``), which Linux refuses while the old socket is open: then the old
        listener is closed for a moment (its connections stay) and put back on failure.
        """
        address = HostPort.parse(listen)
        try:
            return await bind_listener(address)
        except (OSError, AddressError) as exc:
            current = HostPort.parse(proxy.listen)
            if not (proxy.enabled and address.port == current.port != 0
                    and isinstance(exc, ListenError) and not exc.client_error):
                raise _start_error(exc) from None
        proxy.close_listener()
        try:
            return await bind_listener(address)
        except (OSError, AddressError) as exc:
            error = _start_error(exc)
        try:
            await proxy.start()
        except OSError as exc:  # its port was taken in that instant: say so
            self.events.emit("proxy_listener_lost", proxy=proxy.name, listen=proxy.listen,
                             error=str(exc))
        raise error

    async def delete_proxy(self, name: str) -> None:
        async with self._lock:
            proxy = self.get(name)
            await proxy.stop()
            self.forget(proxy)

    # ------------------------------------------------------------------------- toxics

    async def add_toxic(self, proxy_name: str, request: ToxicCreate) -> ToxicSpec:
        async with self._lock:
            proxy = self.get(proxy_name)
            if proxy.toxic(request.spec.name) is not None:
                raise ApiError(409, "toxic already exists")
            return self.install_toxic(proxy, request)

    def install_toxic(self, proxy: Proxy, request: ToxicCreate) -> ToxicSpec:
        """Add a toxic whose name is free, with its lease; the lock is held."""
        spec = request.spec
        proxy.add_toxic(spec)
        if request.ttl is not None:
            proxy.toxic_expiry[spec.name] = self.clock.now() + request.ttl
            self._leases_changed.set()
        self._emit_toxic("toxic_added", proxy, spec, ttl=request.ttl)
        return spec

    async def update_toxic(self, proxy_name: str, toxic_name: str,
                           request: ToxicUpdate) -> ToxicSpec:
        async with self._lock:
            proxy = self.get(proxy_name)
            spec = apply_toxic_update(self._toxic(proxy, toxic_name), request)
            proxy.update_toxic(spec)
            if not isinstance(request.ttl, Unset):
                if request.ttl is None:
                    proxy.toxic_expiry.pop(toxic_name, None)
                else:
                    proxy.toxic_expiry[toxic_name] = self.clock.now() + request.ttl
                self._leases_changed.set()
            ttl = None if isinstance(request.ttl, Unset) else request.ttl
            self._emit_toxic("toxic_updated", proxy, spec, ttl=ttl)
            return spec

    async def remove_toxic(self, proxy_name: str, toxic_name: str) -> None:
        async with self._lock:
            proxy = self.get(proxy_name)
            spec = self._toxic(proxy, toxic_name)
            proxy.remove_toxic(toxic_name)
            self._emit_toxic("toxic_removed", proxy, spec)

    def _emit_toxic(self, event: str, proxy: Proxy, spec: ToxicSpec, **extra: object) -> None:
        self.events.emit(event, proxy=proxy.name, toxic=spec.name, type=spec.type,
                         stream=spec.stream.value, toxicity=spec.toxicity,
                         attributes=spec.attributes.to_json(), **extra)

    # -------------------------------------------------------------------------- reset

    async def reset(self) -> None:
        """Enable every proxy and remove every toxic and lease.

        Unlike Toxiproxy, a proxy that cannot start does not stop the reset of the others;
        the failures are reported together afterwards.
        """
        failures: list[str] = []
        async with self._lock:
            for proxy in self.proxies.values():
                for spec in list(proxy.toxics):
                    proxy.remove_toxic(spec.name)
                proxy.reenable_at = None
                try:
                    await proxy.start()
                except (OSError, AddressError) as exc:
                    failures.append(f"{proxy.name}: {exc}")
            self._leases_changed.set()
            self.events.emit("reset", failures=failures)
        if failures:
            raise ApiError(500, "; ".join(failures))

    # ------------------------------------------------------------------------- leases

    def _next_lease(self) -> float | None:
        deadlines = [t for proxy in self.proxies.values() for t in proxy.toxic_expiry.values()]
        deadlines += [p.reenable_at for p in self.proxies.values() if p.reenable_at is not None]
        return min(deadlines, default=None)

    async def _lease_loop(self) -> None:
        while True:
            self._leases_changed.clear()
            due = self._next_lease()
            if due is not None and due <= self.clock.now():
                try:
                    async with self._lock:
                        await self._expire(self.clock.now())
                except Exception as exc:
                    # A bug must not end lease enforcement for the rest of the run: log it,
                    # pause (so a persistent failure cannot spin), and keep going.
                    self.events.emit("lease_error", error=repr(exc))
                    await self.clock.sleep_until(self.clock.now() + LEASE_RETRY)
                continue
            waiters: set[asyncio.Future[Any]] = {
                asyncio.ensure_future(self._leases_changed.wait())}
            if due is not None:
                waiters.add(asyncio.ensure_future(self.clock.sleep_until(due)))
            try:
                await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
            finally:
                for waiter in waiters:
                    waiter.cancel()

    async def _expire(self, now: float) -> None:
        for proxy in list(self.proxies.values()):
            for name, expires_at in list(proxy.toxic_expiry.items()):
                if expires_at <= now:
                    del proxy.toxic_expiry[name]  # first, so a lease can only fire once
                    spec = proxy.remove_toxic(name)
                    if spec is not None:
                        self._emit_toxic("toxic_expired", proxy, spec)
            if proxy.reenable_at is not None and proxy.reenable_at <= now:
                try:
                    await proxy.start()
                except (OSError, AddressError) as exc:
                    proxy.reenable_at = now + LEASE_RETRY
                    self.events.emit("proxy_lease_retry", proxy=proxy.name, error=str(exc),
                                     retry_in=LEASE_RETRY)
                else:
                    proxy.reenable_at = None
                    self.events.emit("proxy_lease_expired", proxy=proxy.name,
                                     listen=proxy.listen, enabled=True)

    async def apply_config(self, entries: list[tuple[ProxyCreate, list[ToxicCreate]]]) -> None:
        """Create the proxies of a ``--config`` file (and, unlike Toxiproxy, their toxics),
        all or none, as ``/populate``."""
        await self.populate(entries)

