"""The per-connection data path: two pipes between a client and its upstream.

A :class:`Connection` owns two sockets and two :class:`_Pipe` objects, one per direction
(``upstream`` = client -> server, ``downstream`` = server -> client). Each pipe runs two
tasks:

* the **reader** receives chunks from its source socket and feeds them into the pipe's
  :class:`~faultlab.proxy.chain.Chain`; while no toxic applies and nothing is queued it
  skips the chain and sends straight from its receive buffer (the fast path). It does not
  run per chunk: it registers a readiness callback (``loop.add_reader``) that receives and
  sends, or feeds the chain, synchronously inside the loop's callback (on the fast path one
  epoll wait, one recv, one send per chunk: no future, no task step), and waits until the
  callback hands back a chunk that needs the task (see :meth:`_Pipe._watch`);
* the **writer** carries out the chain's commands in order: it sends queued bytes, shuts
  down the destination's write half on :class:`~faultlab.proxy.toxics.Close`, and wakes
  up at the chain's deadline to let time-based toxics run. Bytes the chain puts out while
  nothing is queued or being sent are sent at once by :meth:`_Pipe.apply`, in whichever
  callback or task produced them; only what the socket does not take is queued, so a
  chunk through a toxic that passes it on costs no task step.

Invariants:

* Bytes leave each pipe in the order they arrived (one FIFO queue, one writer; the fast path
  is taken only when the queue and the chain hold nothing, under the same send lock). The
  callback checks that before every chunk, as the task does, so a toxic added to a live
  connection gets every chunk read after it was added.
* One reader per socket: the callback is registered only while the reader task waits for
  it, and removed before the task reads, splices or is cancelled.
* Memory is bounded: the reader stops reading while more than ``max_buffered`` bytes are
  queued or held by toxics, so TCP flow control pushes back on the sender. On the fast path
  a send that does not take the whole chunk hands it back to the task, which sends the rest
  before it reads again: the proxy holds at most one read buffer per direction.
* Half-close is propagated: EOF on one side becomes ``shutdown(SHUT_WR)`` on the other, and
  the other direction keeps flowing. The connection ends when both directions have closed,
  or at once on an error or a reset.
* An observed connection (:mod:`faultlab.proxy.observe`) feeds its observer every chunk as
  it arrives, before the chain, and never splices; an unobserved one pays one ``is None``
  check per chunk.
* Connection errors are data: they end the connection with a :class:`CloseReason` in its
  :class:`ConnectionOutcome`; no exception escapes :meth:`Connection.run` except
  cancellation. Both sockets are closed however the connection ends; after an error or a
  reset they are closed with SO_LINGER 0, so the peer sees an RST as it would without us.

The relay's clock is :func:`now` (``time.monotonic``, not ``loop.time()``: uvloop's is
cached and has millisecond steps, which alone made a 10 ms latency toxic ~1 ms late).
Toxics receive it as plain numbers; their timing logic is tested sans-IO with explicit
times. Loop timers fire with millisecond granularity too, so the writer sleeps on a timer
until ``TIMER_SLACK`` before a deadline and then yields to the loop until it is reached: a
held chunk leaves within a loop iteration of its due time, never before it.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import socket
import struct
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from faultlab.proxy import splice
from faultlab.proxy.addresses import HostPort, dial
from faultlab.proxy.chain import Chain, ConnectionSeed
from faultlab.proxy.metrics import ProxyStats
from faultlab.proxy.model import Stream, ToxicSpec
from faultlab.proxy.observe import ConnectionObserver
from faultlab.proxy.toxics import Close, Command, Deliver, Drop, Hangup, Reply, Reset

__all__ = ["CloseReason", "Connection", "ConnectionOutcome", "RelayLimits"]

INITIAL_READ_SIZE = 4 * 1024  # idle connections stay small; a full read grows it 4x
TIMER_SLACK = 0.0015  # seconds: loop timers may fire up to a millisecond late
now = time.monotonic


class CloseReason(enum.Enum):
    COMPLETED = "completed"  # both directions closed cleanly
    DIAL_FAILED = "dial_failed"  # the upstream could not be reached; the client gets EOF
    CLIENT_ERROR = "client_error"  # the client's socket failed (reset, broken pipe)
    UPSTREAM_ERROR = "upstream_error"
    TOXIC_RESET = "toxic_reset"
    TOXIC_CLOSE = "toxic_close"  # a toxic hung up (timeout, limit_data, http_abort): FINs
    REFUSED = "refused"  # connect_refuse: the client got an RST, the upstream no dial
    STOPPED = "stopped"  # the proxy was disabled, deleted, or the server is stopping
    INTERNAL_ERROR = "internal_error"  # a bug in the relay; logged by the proxy


@dataclass(frozen=True, slots=True)
class RelayLimits:
    """Sizes and timeouts of the data path."""

    read_size: int = 256 * 1024  # the most one read takes; buffers start at 16 KiB
    max_buffered: int = 4 * 1024 * 1024  # per direction; Toxiproxy holds up to ~32 MiB (#232)
    connect_timeout: float = 5.0  # seconds for resolving and connecting to the upstream
    zero_copy: bool = True  # splice(2) bulk transfers with no data toxic (Linux only)


@dataclass(frozen=True, slots=True)
class ConnectionOutcome:
    number: int
    reason: CloseReason
    detail: str
    bytes_up: int  # bytes delivered to the upstream
    bytes_down: int  # bytes delivered to the client


def _describe(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return str(exc) or type(exc).__name__


class _Pipe:
    """One direction of a connection: reader task, command queue, writer task."""

    def __init__(self, conn: Connection, stream: Stream, src: socket.socket,
                 dst: socket.socket, chain: Chain, limits: RelayLimits) -> None:
        self.conn = conn
        self.stream = stream
        self.src = src
        self.dst = dst
        self.chain = chain
        self.limits = limits
        upstream = stream is Stream.UPSTREAM
        self._src_error = CloseReason.CLIENT_ERROR if upstream else CloseReason.UPSTREAM_ERROR
        self._dst_error = CloseReason.UPSTREAM_ERROR if upstream else CloseReason.CLIENT_ERROR
        self._queue: deque[Deliver | Close | Hangup] = deque()
        self._queued_bytes = 0
        self._wake = asyncio.Event()  # the writer has something new to look at
        self._writer_due: float | None = None  # the deadline the writer last slept towards
        self._space = asyncio.Event()  # the reader may read again (cleared while it waits)
        self._space.set()
        self._send_lock = asyncio.Lock()
        self.stats = conn.stats.directions[stream]
        self.delivered = 0
        self.closed = False  # Close carried out: the destination's write half is shut
        # The observer's feed for this direction's arriving bytes (None: not observed).
        self.observe: Callable[[memoryview, float], None] | None = None
        self.observe_eof: Callable[[float], None] | None = None

    def apply(self, commands: Iterable[Command]) -> None:
        """Carry out the chain's commands: bytes that nothing is ahead of (empty queue, no
        send under way) are sent at once, without waiting, and only what the socket does
        not take is queued for the writer, which is woken only if it has something new to
        look at: a queued command or a deadline other than the one it sleeps towards."""
        queued = False
        for command in commands:
            if isinstance(command, Deliver):
                data = command.data
                if not self._queue and not self.closed and not self._send_lock.locked():
                    data = self._send_now(data)
                    if not data:
                        continue
                    command = Deliver(data, command.at)
                self._queue.append(command)
                self._queued_bytes += len(data)
                queued = True
            elif isinstance(command, Close | Hangup):
                self._queue.append(command)
                queued = True
            elif isinstance(command, Reset):
                self.conn.abort(CloseReason.TOXIC_RESET, f"reset by a toxic on {self.stream.value}")
            elif isinstance(command, Reply):
                self.conn.reply(self.stream, command)
            elif isinstance(command, Drop):
                self.stats.dropped += command.size
        # Also on an empty list: a chain change may have moved the deadline.
        if queued or self.chain.deadline() != self._writer_due:
            self._wake.set()
        if not self._space.is_set() and self.buffered() <= self.limits.max_buffered // 2:
            self._space.set()  # held bytes released and sent here, not by the writer

    def _send_now(self, data: bytes) -> bytes:
        """Send what the socket takes of ``data`` without waiting; returns the rest (empty
        also when the destination failed: the connection is ending)."""
        try:
            sent = self.dst.send(data)
        except BlockingIOError:
            return data
        except OSError as exc:
            self.destination_failed(exc)
            return b""
        self.delivered += sent
        self.stats.sent += sent
        return data[sent:]

    def buffered(self) -> int:
        return self._queued_bytes + self.chain.held_bytes()

    def passed(self) -> int:
        """Bytes that came out of the chain to be sent on (sent or queued)."""
        return self.delivered + self._queued_bytes

    @property
    def idle(self) -> bool:
        """Nothing queued and no send under way: new bytes may bypass the queue."""
        return not self._queue and not self._send_lock.locked()

    @property
    def send_lock(self) -> asyncio.Lock:
        return self._send_lock

    def source_failed(self, exc: OSError) -> None:
        self.conn.abort(self._src_error, _describe(exc))

    def destination_failed(self, exc: OSError) -> None:
        self.conn.abort(self._dst_error, _describe(exc))

    async def _send(self, data: bytes | memoryview) -> bool:
        try:
            await asyncio.get_running_loop().sock_sendall(self.dst, data)
        except OSError as exc:
            self.conn.abort(self._dst_error, _describe(exc))
            return False
        self.delivered += len(data)
        self.stats.sent += len(data)
        return True

    def _eof(self, arrived: float) -> None:
        if self.observe_eof is not None:
            self.observe_eof(arrived)
        self.apply(self.chain.feed_eof(arrived))

    async def _watch(self, buffer: bytearray, view: memoryview) -> tuple[int, int]:
        """Receive from readiness callbacks until something needs the reader task.

        The loop calls ``on_readable`` when the source is readable; it receives there and
        then, with no future, no task step and no await per chunk, and either sends the
        chunk straight from the buffer (the fast path: no data toxic applies and nothing is
        queued; a ping-pong costs one epoll wait, one recv and one send per direction) or
        feeds it to the chain, whose commands go to the writer. It hands back to the reader
        task, returning ``(size, sent)`` for the last chunk (``sent`` is where the bytes
        still to be sent under the send lock start), as soon as something needs an await
        or a look from the task: a send that did not take every byte (flow control), more
        than ``max_buffered`` bytes queued or held (wait for space), a read that filled the
        buffer (grow it, or splice), EOF (``size`` 0) or an error (``sent`` -1). This is
        the proxy's hottest code: everything it needs is bound before the first chunk.
        """
        loop = asyncio.get_running_loop()
        done: asyncio.Future[tuple[int, int]] = loop.create_future()
        finished = done.done
        recv_into, send, chain, stats = self.src.recv_into, self.dst.send, self.chain, self.stats
        queue, locked, observe = self._queue, self._send_lock.locked, self.observe
        capacity, max_buffered = len(buffer), self.limits.max_buffered

        def on_readable() -> None:
            if finished():  # handed back; the task has not removed the reader yet
                return
            try:
                try:
                    size = recv_into(buffer)
                except (BlockingIOError, InterruptedError):
                    return
                except OSError as exc:
                    self.source_failed(exc)
                    done.set_result((0, -1))
                    return
                if size == 0:
                    done.set_result((0, 0))
                    return
                arrived = now()
                stats.received += size
                if observe is not None:
                    observe(view[:size], arrived)  # it keeps nothing of the buffer
                if not (chain.passthrough and not queue and not locked()):
                    self.apply(chain.feed(bytes(view[:size]), arrived))
                    if size == capacity or self.buffered() > max_buffered:
                        done.set_result((size, size))
                    return
                try:
                    sent = send(view[:size])
                except BlockingIOError:
                    sent = 0
                except OSError as exc:
                    self.destination_failed(exc)
                    done.set_result((size, -1))
                    return
                self.delivered += sent
                stats.sent += sent
                if sent != size or size == capacity:
                    done.set_result((size, sent))
            except Exception as exc:  # a bug (an observer's, a toxic's): the task reports it
                done.set_exception(exc)

        fd = self.src.fileno()
        loop.add_reader(fd, on_readable)
        try:
            # Bytes may be waiting already (the source kept sending while the task sent under
            # the lock, spliced or waited for space): take them now, not an iteration later.
            on_readable()
            return await done
        finally:
            loop.remove_reader(fd)

    async def read_loop(self) -> None:
        # Start small so that idle connections stay cheap; grow while reads fill the buffer.
        buffer = bytearray(min(INITIAL_READ_SIZE, self.limits.read_size))
        view = memoryview(buffer)
        while True:
            size, sent = await self._watch(buffer, view)
            if size == 0:
                if sent == 0:
                    self._eof(now())
                return
            if sent < 0:
                return
            if sent < size:
                async with self._send_lock:
                    if not await self._send(view[sent:size]):
                        return
            if size == len(buffer):
                if self.limits.zero_copy and splice.AVAILABLE and self.chain.passthrough \
                        and self.observe is None:
                    # A bulk transfer: move it in the kernel while no data toxic applies
                    # (and no observer needs to see the bytes).
                    if await splice.relay(self) is splice.Ended.EOF:
                        self.apply(self.chain.feed_eof(now()))
                    if self.conn.finished:
                        return
                elif size < self.limits.read_size:
                    buffer = bytearray(min(4 * size, self.limits.read_size))
                    view = memoryview(buffer)
            while self.buffered() > self.limits.max_buffered:
                self._space.clear()
                await self._space.wait()

    async def write_loop(self) -> None:
        while True:
            due = self.chain.deadline()
            if due is not None and due <= (current := now()):
                self.apply(self.chain.tick(current))
            if self._queue:
                async with self._send_lock:
                    item = self._queue.popleft()
                    if isinstance(item, Deliver):
                        self._queued_bytes -= len(item.data)
                        if self.closed:
                            # Data after a close (the server answering an aborted request).
                            self.stats.dropped += len(item.data)
                        elif not await self._send(item.data):
                            return
                    elif isinstance(item, Hangup):
                        self.conn.hangup(f"closed by a toxic on {self.stream.value}")
                        return
                    elif not self.closed:
                        try:
                            self.dst.shutdown(socket.SHUT_WR)
                        except OSError as exc:
                            self.conn.abort(self._dst_error, _describe(exc))
                            return
                        self.closed = True
                        self.conn.pipe_closed()
                if self.buffered() <= self.limits.max_buffered // 2:
                    self._space.set()
                continue
            # Nothing to send: sleep until the next toxic deadline or until woken. The event
            # is cleared only here, after the last look, so a wake-up cannot be missed.
            self._wake.clear()
            due = self._writer_due = self.chain.deadline()
            if due is None:
                await self._wake.wait()
            elif (left := due - now()) > TIMER_SLACK:
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(left - TIMER_SLACK):
                        await self._wake.wait()
            else:
                await asyncio.sleep(0)  # the last stretch: one loop iteration at a time


class Connection:
    """One accepted client and its upstream; see the module docstring for the invariants."""

    def __init__(self, *, number: int, client: socket.socket, upstream: HostPort,
                 seed: ConnectionSeed, toxics: Iterable[ToxicSpec], limits: RelayLimits,
                 now: float, stats: ProxyStats | None = None,
                 observer: ConnectionObserver | None = None) -> None:
        self.number = number
        self.stats = stats if stats is not None else ProxyStats()
        self._client = client
        self._upstream_address = upstream
        self._upstream: socket.socket | None = None
        self._limits = limits
        specs = list(toxics)
        self._chains = {stream: Chain(seed, [s for s in specs if s.stream is stream], now,
                                      on_activate=self.stats.activated)
                        for stream in Stream}
        self._pipes: dict[Stream, _Pipe] = {}
        self._tasks: list[asyncio.Task[None]] = []
        self._finished = asyncio.Event()
        self._outcome: tuple[CloseReason, str] | None = None
        self._ended_at: float | None = None
        self._accepted_at = now
        self._observer = observer
        self._toxics_changed = asyncio.Event()  # wakes a dial held by connect_delay

    # ------------------------------------------------------------- toxic changes (API)

    def add_toxic(self, spec: ToxicSpec, now: float) -> None:
        self._apply(spec.stream, self._chains[spec.stream].add(spec, now))

    def update_toxic(self, spec: ToxicSpec, now: float) -> None:
        self._apply(spec.stream, self._chains[spec.stream].update(spec, now))

    def remove_toxic(self, spec: ToxicSpec, now: float) -> None:
        self._apply(spec.stream, self._chains[spec.stream].remove(spec.name, now))

    def buffered(self, stream: Stream) -> int:
        """Bytes of ``stream`` read from its source and not yet sent on (queued or held)."""
        pipe = self._pipes.get(stream)
        return pipe.buffered() if pipe is not None else 0

    def applies(self, spec: ToxicSpec) -> bool:
        """Whether ``spec`` applies to this connection (its once-per-connection draw)."""
        return self._chains[spec.stream].applies(spec.name)

    def _apply(self, stream: Stream, commands: list[Command]) -> None:
        self._toxics_changed.set()
        pipe = self._pipes.get(stream)
        if pipe is not None:
            pipe.apply(commands)
        # Before the upstream is connected no data has entered a chain, so a chain change
        # cannot produce commands yet; the writer reads the new deadline when it starts.

    # -------------------------------------------------------------------------- life

    def abort(self, reason: CloseReason, detail: str) -> None:
        """End the connection now; the first reason given is the one reported."""
        self._finish(reason, detail)

    def hangup(self, detail: str) -> None:
        """End the connection with FINs both ways (a toxic closing it, not an error)."""
        self._finish(CloseReason.TOXIC_CLOSE, detail)

    def reply(self, stream: Stream, reply: Reply) -> None:
        """Send ``reply`` back to the sender of ``stream``, past the other chain, then FIN."""
        other = Stream.DOWNSTREAM if stream is Stream.UPSTREAM else Stream.UPSTREAM
        pipe = self._pipes.get(other)
        if pipe is not None:
            pipe.apply([Deliver(reply.data, reply.at), Close(reply.at)])
            if self._observer is not None and stream is Stream.UPSTREAM:
                # The commands before this reply are queued already: what passed ends
                # where the answered request starts.
                self._observer.injected_reply(reply.data, now(), self._pipes[stream].passed())

    @property
    def finished(self) -> bool:
        return self._finished.is_set()

    def pipe_closed(self) -> None:
        if self._pipes and all(pipe.closed for pipe in self._pipes.values()):
            self._finish(CloseReason.COMPLETED, "")

    def _finish(self, reason: CloseReason, detail: str) -> None:
        if self._outcome is None:
            self._outcome = (reason, detail)
            self._ended_at = now()
        self._finished.set()

    def _task_done(self, task: asyncio.Task[None]) -> None:
        if not task.cancelled() and (exc := task.exception()) is not None:
            self._finish(CloseReason.INTERNAL_ERROR, repr(exc))

    async def run(self) -> ConnectionOutcome:
        """Dial the upstream, relay until the connection ends, close both sockets."""
        try:
            await self._relay()
        except asyncio.CancelledError:
            self._finish(CloseReason.STOPPED, "proxy stopped")
            raise
        finally:
            await self._teardown()
            self.end_observation()
        return self.outcome()

    async def _relay(self) -> None:
        chains = self._chains.values()
        if any(chain.refuses_connection() for chain in chains):
            self._finish(CloseReason.REFUSED, "refused by connect_refuse")
            return
        await self._connect_delay()
        try:
            async with asyncio.timeout(self._limits.connect_timeout):
                self._upstream = await dial(self._upstream_address)
        except TimeoutError:
            timeout = self._limits.connect_timeout
            self._finish(CloseReason.DIAL_FAILED,
                         f"connecting to {self._upstream_address} timed out after {timeout}s")
            return
        except OSError as exc:
            self._finish(CloseReason.DIAL_FAILED,
                         f"connecting to {self._upstream_address}: {_describe(exc)}")
            return
        for sock in (self._client, self._upstream):
            # The proxy must not add Nagle delays of its own on top of the toxics'.
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        ends = {Stream.UPSTREAM: (self._client, self._upstream),
                Stream.DOWNSTREAM: (self._upstream, self._client)}
        for stream, (src, dst) in ends.items():
            pipe = _Pipe(self, stream, src, dst, self._chains[stream], self._limits)
            self._pipes[stream] = pipe
            if (observer := self._observer) is not None:
                if stream is Stream.UPSTREAM:
                    pipe.observe, pipe.observe_eof = observer.client_bytes, observer.client_eof
                else:
                    pipe.observe = observer.upstream_bytes
            for loop_fn in (pipe.read_loop, pipe.write_loop):
                task = asyncio.create_task(loop_fn(), name=f"{stream.value} {loop_fn.__name__}")
                task.add_done_callback(self._task_done)
                self._tasks.append(task)
        await self._finished.wait()

    async def _connect_delay(self) -> None:
        """Hold the dial until ``accepted + delay`` of the connect_delay toxics that applied
        when the client was accepted, re-reading them whenever a toxic changes: removing one
        releases the dial at once, an update re-times it from the accept (toxics added
        later have no say, as documented)."""
        chains = self._chains.values()
        initial: set[str] = set()
        for chain in chains:
            initial |= chain.applying()
        while True:
            delay = sum(chain.connect_delay(initial) for chain in chains)
            left = self._accepted_at + delay - now()
            if left <= 0:
                return
            self._toxics_changed.clear()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(left):
                    await self._toxics_changed.wait()

    async def _teardown(self) -> None:
        try:
            for task in self._tasks:
                task.cancel()
            if self._tasks:
                # The tasks must be gone before their sockets close (the loop still watches
                # the file descriptors until then).
                await asyncio.wait(self._tasks)
        finally:
            self.close_sockets()

    def end_observation(self) -> None:
        """Hand the connection's end to its observer (once; again is a no-op)."""
        observer, self._observer = self._observer, None
        if observer is not None:
            outcome = self.outcome()
            at = self._ended_at if self._ended_at is not None else now()
            observer.closed(at, outcome.reason.value, outcome.bytes_up, outcome.bytes_down)

    def close_sockets(self) -> None:
        """Close both sockets (again: idempotent); with an RST after an error or a reset."""
        reason = self._outcome[0] if self._outcome else CloseReason.STOPPED
        abortive = reason not in (CloseReason.COMPLETED, CloseReason.STOPPED,
                                  CloseReason.DIAL_FAILED, CloseReason.TOXIC_CLOSE)
        for sock in (self._client, self._upstream):
            if sock is not None:
                _close(sock, reset=abortive)

    def outcome(self) -> ConnectionOutcome:
        reason, detail = self._outcome or (CloseReason.STOPPED, "")
        up, down = self._pipes.get(Stream.UPSTREAM), self._pipes.get(Stream.DOWNSTREAM)
        return ConnectionOutcome(self.number, reason, detail,
                                 up.delivered if up else 0, down.delivered if down else 0)


_LINGER_ZERO = struct.pack("ii", 1, 0)


def _close(sock: socket.socket, *, reset: bool) -> None:
    """Close ``sock``; with ``reset`` the kernel sends an RST instead of a FIN."""
    with contextlib.suppress(OSError):
        if reset:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, _LINGER_ZERO)
        sock.close()
