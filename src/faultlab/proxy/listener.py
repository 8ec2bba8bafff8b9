"""One named proxy: its listening socket, its toxics and its live connections."""

from __future__ import annotations

import asyncio
import functools
import socket
from collections.abc import Callable
from typing import Protocol

from faultlab.proxy.addresses import HostPort, bind_listener
from faultlab.proxy.chain import ConnectionSeed
from faultlab.proxy.events import EventLog
from faultlab.proxy.metrics import ProxyStats
from faultlab.proxy.model import Stream, ToxicSpec
from faultlab.proxy.observe import ConnectionObserver, ObservationLog, RequestObservation
from faultlab.proxy.relay import CloseReason, Connection, ConnectionOutcome, RelayLimits
from faultlab.proxy.relay import now as relay_clock
from faultlab.proxy.toxics.http_parser import RequestHead

__all__ = ["Proxy", "RequestTracer"]

STOP_TIMEOUT = 5.0  # connection tasks only close sockets when cancelled; this is a safety net
ACCEPT_BACKOFF = 0.1  # after an accept error such as EMFILE, instead of spinning
ACCEPT_BATCH = 64  # clients accepted per wake-up, so a flood cannot starve the loop


class RequestTracer(Protocol):
    """Spans for the traced requests a proxy's toxics fault (faultlab.telemetry.proxy)."""

    def bind(self, proxy: Proxy, conn: Connection
             ) -> Callable[[RequestHead, RequestObservation], None]: ...


class Proxy:
    """A listener that relays each accepted client to ``upstream`` through the toxics.

    ``listen`` is the address as given until the proxy has started, then the address it
    actually bound, so that re-enabling binds the same port even if ``:0`` was asked for.
    Upstream addresses are resolved on every dial, outside the accept loop and within the
    connect timeout, so a slow upstream never delays other clients.
    """

    def __init__(self, name: str, listen: str, upstream: str, *, seed: int,
                 limits: RelayLimits, events: EventLog, observe: bool = False,
                 tracer: RequestTracer | None = None) -> None:
        self.name = name
        self.listen = listen
        self.upstream = upstream  # raises AddressError if malformed
        self.toxics: list[ToxicSpec] = []  # insertion order, both streams
        # Leases, in the registry clock's seconds: when to re-enable, when each toxic lapses.
        self.reenable_at: float | None = None
        self.toxic_expiry: dict[str, float] = {}
        self._seed = seed
        self._limits = limits
        self._events = events
        self._listener: socket.socket | None = None
        self._backoff: asyncio.TimerHandle | None = None  # accepting paused after an error
        self._connections: dict[Connection, asyncio.Task[ConnectionOutcome]] = {}
        self._next_number = 1
        self.stats = ProxyStats()
        # Whether connections accepted from now on are observed; the log outlives changes.
        self.observe = observe
        self.observations = ObservationLog(name)
        # With a tracer every connection is framed, for the traced requests it faults; a
        # proxy that does not observe keeps none of the records (a ring of one).
        self.tracer = tracer
        self._unkept = ObservationLog(name, capacity=1)

    @property
    def upstream(self) -> str:
        return self._upstream_text

    @upstream.setter
    def upstream(self, text: str) -> None:
        self._upstream_address = HostPort.parse(text)
        self._upstream_text = text

    @property
    def enabled(self) -> bool:
        return self._listener is not None

    @property
    def connections(self) -> list[Connection]:
        return list(self._connections)

    # ------------------------------------------------------------------------- toxics

    def toxic(self, name: str) -> ToxicSpec | None:
        return next((spec for spec in self.toxics if spec.name == name), None)

    def ordered_toxics(self) -> list[ToxicSpec]:
        """Upstream chain first, then downstream, each in chain order (as Toxiproxy lists)."""
        return [spec for stream in Stream for spec in self.toxics if spec.stream is stream]

    def add_toxic(self, spec: ToxicSpec) -> None:
        self.toxics.append(spec)
        now = relay_clock()
        for conn in self._connections:
            conn.add_toxic(spec, now)

    def update_toxic(self, spec: ToxicSpec) -> None:
        self.toxics = [spec if old.name == spec.name else old for old in self.toxics]
        now = relay_clock()
        for conn in self._connections:
            conn.update_toxic(spec, now)

    def remove_toxic(self, name: str) -> ToxicSpec | None:
        spec = self.toxic(name)
        if spec is None:
            return None
        self.toxics.remove(spec)
        self.toxic_expiry.pop(name, None)
        now = relay_clock()
        for conn in self._connections:
            conn.remove_toxic(spec, now)
        return spec

    # ---------------------------------------------------------------------- lifecycle

    async def start(self, sock: socket.socket | None = None) -> None:
        """Listen on ``listen``, or on ``sock`` if given (already bound and listening, as
        ``/populate`` prepares them); raises AddressError or ListenError (an OSError) and
        stays stopped then. Given a socket it cannot fail.
        """
        if self._listener is not None:
            return
        if sock is None:
            sock = await bind_listener(HostPort.parse(self.listen))
        self.listen = str(HostPort.from_sockname(sock.getsockname()))
        self._listener = sock
        # A reader callback rather than an accept task: an accepted socket can never be
        # lost in a future whose task is cancelled, and there is no future per client.
        asyncio.get_running_loop().add_reader(sock, self._accept_ready)

    def close_listener(self) -> None:
        """Stop listening but keep the connections (to free the port for a moment)."""
        sock, self._listener = self._listener, None
        if self._backoff is not None:
            self._backoff.cancel()
            self._backoff = None
        if sock is not None:
            asyncio.get_running_loop().remove_reader(sock)
            sock.close()

    async def stop(self, *, keep_listener: bool = False) -> socket.socket | None:
        """Close the listener and every connection (the "down" fault). Idempotent.

        With ``keep_listener`` the listening socket is not closed but handed back (still
        bound, no longer watched), for a replacement proxy to adopt.
        """
        sock, self._listener = self._listener, None
        if self._backoff is not None:
            self._backoff.cancel()
            self._backoff = None
        if sock is not None:
            asyncio.get_running_loop().remove_reader(sock)
            if not keep_listener:
                sock.close()
                sock = None
        tasks = list(self._connections.values())
        for conn_task in tasks:
            conn_task.cancel()
        if tasks:
            _, pending = await asyncio.wait(tasks, timeout=STOP_TIMEOUT)
            if pending:
                self._events.emit("connections_stuck", proxy=self.name, count=len(pending))
        return sock

    def _accept_ready(self) -> None:
        """Accept every pending client (up to a batch) and start its connection task.

        The upstream is dialled in the connection's own task, never here, so a slow
        upstream cannot hold up other clients.
        """
        listener = self._listener
        if listener is None:
            return
        loop = asyncio.get_running_loop()
        for _ in range(ACCEPT_BATCH):
            try:
                client, peer = listener.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError as exc:
                # EMFILE and friends: stop watching for a moment instead of spinning.
                self._events.emit("accept_failed", proxy=self.name, error=str(exc))
                loop.remove_reader(listener)
                self._backoff = loop.call_later(ACCEPT_BACKOFF, self._resume_accepting)
                return
            client.setblocking(False)
            number = self._next_number
            self._next_number += 1
            accepted = relay_clock()
            observer = None
            if self.observe or self.tracer is not None:
                observer = ConnectionObserver(self.observations if self.observe
                                              else self._unkept, number, _address(peer),
                                              accepted)
            conn = Connection(number=number, client=client, upstream=self._upstream_address,
                              seed=ConnectionSeed(self._seed, self.name, number),
                              toxics=self.toxics, limits=self._limits, now=accepted,
                              stats=self.stats, observer=observer)
            if self.tracer is not None and observer is not None:
                observer.traced = self.tracer.bind(self, conn)
            self.stats.accepted += 1
            self.stats.active += 1
            task = loop.create_task(conn.run(), name=f"proxy {self.name} #{number}")
            self._connections[conn] = task
            task.add_done_callback(functools.partial(self._connection_done, conn))

    def _resume_accepting(self) -> None:
        self._backoff = None
        if self._listener is not None:
            asyncio.get_running_loop().add_reader(self._listener, self._accept_ready)

    def _connection_done(self, conn: Connection,
                         task: asyncio.Task[ConnectionOutcome]) -> None:
        self._connections.pop(conn, None)
        self.stats.active -= 1
        if task.cancelled():
            self.stats.closed[CloseReason.STOPPED.value] += 1
            # A task cancelled before its first step never ran its cleanup.
            conn.close_sockets()
            conn.end_observation()
            return
        if (exc := task.exception()) is not None:
            conn.end_observation()
            self.stats.closed[CloseReason.INTERNAL_ERROR.value] += 1
            self._events.emit("internal_error", proxy=self.name, connection=conn.number,
                              error=repr(exc))
            return
        outcome = task.result()
        self.stats.closed[outcome.reason.value] += 1
        # Routine endings are not logged (one line per connection would drown the changes);
        # the ones that point at a misconfiguration or a bug are.
        if outcome.reason in (CloseReason.DIAL_FAILED, CloseReason.INTERNAL_ERROR):
            self._events.emit(outcome.reason.value, proxy=self.name, connection=conn.number,
                              upstream=self.upstream, error=outcome.detail)


def _address(peer: object) -> str:
    """``host:port`` of an accepted client's address (``[v6]:port``), or ``?`` for none."""
    if isinstance(peer, tuple) and len(peer) >= 2:
        return str(HostPort.from_sockname(peer))
    return "?"
