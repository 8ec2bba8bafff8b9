"""A workload that records a history: logical processes drive a client with generated ops.

:class:`HistoryLoad` plans operation ``i`` at ``start + i / rate`` with the scheduler every
workload shares (:class:`~faultlab.workload.openloop.OpenLoop`, whose docstring states the
plan, lateness, warm-up and ``stop_at`` invariants) and hands it to an idle *logical process*;
there are ``processes`` of them (the scheduler's in-flight cap), so at most that many
operations are in flight. An operation planned when every process is busy is dropped and
counted (``HistoryRunStats.dropped``), never queued: the history then simply has fewer
operations, and the rate the system saw is visible.

Invariants:

- *Single-threaded processes.* A process invokes its next operation only after its previous
  one completed; the history's ``process`` field says which process did what.
- *Crashed processes are retired* (as Jepsen does): after an ``info`` outcome the process's
  client is closed and the slot continues as a fresh process, id ``old + processes``, with a
  fresh client. Its unknown operation stays pending forever as far as checkers know.
- *Outcomes are the client's*: :class:`~faultlab.workload.clients.Definite` → ``fail``,
  :class:`~faultlab.workload.clients.Indefinite` → ``info``. A client that overruns its own
  timeout by more than :data:`OVERRUN_GRACE` is cut off and recorded ``info``.
- *Reproducible choices.* The content of operation ``i`` (function, key, value) depends only
  on ``seed`` and ``i``, never on timing or outcomes; written values are unique per run.
- *Every key lives under a namespace* (``spec.namespace``, by default ``fl-{seed}-{hex}``),
  so runs against a long-lived server never see each other's data; histories record the
  logical key (``k0``, ``k1``, ...).
- *Final reads.* When the plan ends and every operation has completed, each key is read
  once more (a queue is drained) so that lost writes show up even in a short run; pass
  ``final_reads=False`` to skip. These run after ``stop``, each within the timeout.

Models (``spec.model``): ``register`` (read/write), ``cas-register`` (read/write/cas), ``set``
(add of unique elements/read), ``queue`` (enqueue unique/dequeue), ``bank`` (transfers
between ``accounts`` accounts of ``balance`` each, and reads of every balance; one object).
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import random
import secrets
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from faultlab.clock import Clock, MonotonicClock
from faultlab.history import History, Recorder, Value
from faultlab.workload.clients import (
    CLIENT_KINDS,
    Client,
    ClientError,
    Definite,
    Indefinite,
    OpKind,
    make_client,
)
from faultlab.workload.clients.base import close_quietly
from faultlab.workload.clients.models import MODEL_OPS
from faultlab.workload.openloop import LoadSummary, OpenLoop

__all__ = ["MODELS", "OVERRUN_GRACE", "HistoryLoad", "HistoryRunStats", "HistorySpec"]

OVERRUN_GRACE = 0.5  # seconds past its timeout after which a client call is cut off
MODELS = ("register", "cas-register", "set", "queue", "bank")


@dataclass(frozen=True)
class HistorySpec:
    """A history workload from plain values, as an experiment file states it.

    ``client`` is a system (``redis``, ``postgres``, ``etcd``, ``kv-http``) and ``address``
    its ``host:port`` (or the fault proxy's); ``rate`` is operations per second over all
    processes; ``timeout`` bounds every operation, in seconds.
    """

    client: str
    address: str  # the first of ``addresses`` when several are given
    model: str
    processes: int = 5
    keys: int = 3
    rate: float = 50.0
    timeout: float = 1.0
    seed: int = 0
    namespace: str | None = None
    accounts: int = 5
    balance: int = 100
    final_reads: bool = True
    #: every node's address: client process ``p`` talks to ``addresses[p % len]``
    addresses: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.client not in CLIENT_KINDS:
            raise ValueError(f"unknown client {self.client!r}; expected one of "
                             + ", ".join(CLIENT_KINDS))
        if self.model not in MODELS:
            raise ValueError(f"unknown model {self.model!r}; expected one of "
                             + ", ".join(MODELS))
        for name in ("processes", "keys", "accounts", "balance"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1, got {getattr(self, name)!r}")
        for name in ("rate", "timeout"):
            value = getattr(self, name)
            if not (value > 0 and math.isfinite(value)):
                raise ValueError(f"{name} must be a positive number, got {value!r}")
        if self.namespace is not None and not self.namespace.replace("-", "").isalnum():
            raise ValueError(f"namespace must be letters, digits and '-', got {self.namespace!r}")

    @property
    def total(self) -> int:
        """The bank's total balance (what every read must sum to)."""
        return self.accounts * self.balance


@dataclass
class HistoryRunStats:
    """What the generator did in one run: planned = invoked + dropped (final reads apart)."""

    planned: int = 0
    invoked: int = 0
    dropped: int = 0
    retired: int = 0  # processes retired after an info outcome
    final: int = 0  # operations of the final phase


@dataclass(frozen=True)
class _Op:
    kind: OpKind
    key: str  # logical key, as recorded
    value: Value  # what is sent


@dataclass
class _Slot:
    process: int
    client: Client | None = None


class _Generator:
    """Operation ``i``'s content from (seed, i) alone; see the module docstring."""

    def __init__(self, spec: HistorySpec) -> None:
        self.spec = spec
        self.rng = random.Random(spec.seed)
        self.next_value = 0
        self.written: dict[str, deque[int]] = {}
        self.accounts = [f"a{i}" for i in range(spec.accounts)]

    def unique(self) -> int:
        self.next_value += 1
        return self.next_value

    def key(self) -> str:
        return f"k{self.rng.randrange(self.spec.keys)}"

    def next(self) -> _Op:
        rng, model = self.rng, self.spec.model
        roll = rng.random()
        if model == "bank":
            if roll < 0.25:
                return _Op(OpKind.READ_BANK, "bank", None)
            a, b = rng.sample(self.accounts, 2) if len(self.accounts) > 1 else ("a0", "a0")
            return _Op(OpKind.TRANSFER, "bank", (a, b, rng.randint(1, 5)))
        key = self.key()
        if model == "set":
            return _Op(OpKind.READ_SET, key, None) if roll < 0.2 else \
                _Op(OpKind.ADD, key, self.unique())
        if model == "queue":
            return _Op(OpKind.DEQUEUE, key, None) if roll < 0.45 else \
                _Op(OpKind.ENQUEUE, key, self.unique())
        if roll < 0.4:
            return _Op(OpKind.READ, key, None)
        recent = self.written.setdefault(key, deque(maxlen=3))
        if model == "cas-register" and roll < 0.7 and recent:
            new = self.unique()
            op = _Op(OpKind.CAS, key, (rng.choice(list(recent)), new))
        else:
            new = self.unique()
            op = _Op(OpKind.WRITE, key, new)
        recent.append(new)
        return op


class HistoryLoad:
    """Drives a client with generated operations and records the history; see module doc.

    ``sink``: a path for the JSON Lines history, written as operations complete (truncated
    at the start of each run). ``client_factory(slot)`` replaces :func:`make_client`: the
    client of process slot ``slot`` (``0 .. processes-1``; a process retired after an info
    outcome is replaced in its slot, so it keeps talking to the same node).
    """

    def __init__(self, spec: HistorySpec, *, clock: Clock | None = None,
                 sink: Path | None = None,
                 client_factory: Callable[[int], Client] | None = None) -> None:
        self.spec = spec
        self.namespace = spec.namespace or f"fl-{spec.seed}-{secrets.token_hex(3)}"
        self._clock: Clock = clock or MonotonicClock()
        self._sink = sink
        nodes = spec.addresses or (spec.address,)
        self._factory = client_factory or (
            lambda slot: make_client(spec.client, nodes[slot % len(nodes)],
                                     timeout=spec.timeout))
        self._loop = OpenLoop(spec.rate, max_in_flight=spec.processes, clock=self._clock,
                              noun="operations",
                              cap_reason=f"all {spec.processes} processes were busy")
        self.stats = HistoryRunStats()
        self._prepared = False  # prepare() succeeded and no run has used it yet

    def storage_key(self, key: str) -> str:
        return f"{self.namespace}-{self.spec.model}-{key}"

    async def prepare(self) -> None:
        """Check the system is reachable and set it up (tables, bank accounts).

        Raises :class:`~faultlab.workload.clients.ClientError` (a ``Definite`` one with the
        reason) when it is not: a load against an unreachable system is bad input, not a
        history. ``run`` calls it first unless it was called since the last run.
        """
        client = self._factory(0)
        try:
            missing = MODEL_OPS[self.spec.model] - client.kinds
            if missing:
                names = ", ".join(sorted(k.value for k in missing))
                raise ValueError(f"client {self.spec.client!r} cannot run model "
                                 f"{self.spec.model!r}: no {names} operations")
            await client.setup()
            if self.spec.model == "bank":
                accounts: dict[Value, Value] = {
                    f"a{i}": self.spec.balance for i in range(self.spec.accounts)}
                await client.apply(OpKind.OPEN_BANK, self.storage_key("bank"), accounts)
            self._prepared = True
        finally:
            await client.close()

    async def run(self, start: float, stop: float, *, origin: float | None = None) -> History:
        """Prepare, run the operations planned in ``[start, stop)``, final reads; the history.

        ``stop`` may be ``math.inf``, the end being given later by :meth:`stop_at`; operations
        intended before ``origin`` (default ``start``) are the warm-up: recorded in the
        history like every other, but not in :meth:`summary`'s figures.
        """
        self.stats = HistoryRunStats()
        if not self._prepared:
            await self.prepare()
        self._prepared = False  # the next run prepares again
        with contextlib.ExitStack() as files:
            out: TextIO | None = None
            if self._sink is not None:
                out = files.enter_context(self._sink.open("w", encoding="utf-8"))
            recorder = Recorder(self._clock, out)
            slots = [_Slot(p) for p in range(self.spec.processes)]
            idle = deque(slots)
            gen = _Generator(self.spec)
            made = 0  # operations generated: dropped ones too, so op i depends on (seed, i)

            async def launch(intended: float, i: int) -> None:
                nonlocal made
                while made < i:
                    gen.next()
                    made += 1
                op = gen.next()
                made += 1
                self.stats.invoked += 1
                # the scheduler's cap is the number of processes: one is always idle here
                await self._perform(recorder, idle, idle.popleft(), op)

            try:
                try:
                    await self._loop.run(start, stop, launch, origin=origin)
                finally:
                    s = self._loop.summary()
                    self.stats.planned = s.planned + s.warmup.planned
                    self.stats.dropped = s.dropped + s.warmup.dropped
                if self.spec.final_reads:
                    await self._final(recorder, idle)
            finally:
                for slot in slots:
                    if slot.client is not None:
                        await slot.client.close()
            return recorder.close()

    def stop_at(self, t: float) -> None:
        """End the plan at clock time ``t`` if that is before its ``stop`` (see OpenLoop)."""
        self._loop.stop_at(t)

    def summary(self) -> LoadSummary:
        """The scheduler's figures of the current (or last) run, warm-up apart."""
        return self._loop.summary()

    async def _perform(self, recorder: Recorder, idle: deque[_Slot] | None, slot: _Slot,
                       op: _Op) -> tuple[bool, Value]:
        """Run one operation on ``slot``'s process: (ended ``ok``, its result)."""
        if slot.client is None:
            slot.client = self._factory(slot.process % self.spec.processes)
        invoked: Value = None if op.kind in (OpKind.READ, OpKind.READ_SET, OpKind.DEQUEUE,
                                             OpKind.READ_BANK) else op.value
        handle = recorder.invoke(slot.process, op.kind.f, invoked, key=op.key)
        ok, result = False, None
        try:
            async with asyncio.timeout(self.spec.timeout + OVERRUN_GRACE):
                result = await slot.client.apply(op.kind, self.storage_key(op.key), op.value)
        except Definite as exc:
            handle.fail(str(exc))
        except (Indefinite, TimeoutError) as exc:
            handle.info(str(exc) if isinstance(exc, ClientError) else "client overran timeout")
            client, slot.client = slot.client, None
            await close_quietly(client.close(), self.spec.timeout)
            slot.process += self.spec.processes
            self.stats.retired += 1
        else:
            handle.ok(result)
            ok = True
        finally:
            if idle is not None:
                idle.append(slot)
        return ok, result

    async def _final(self, recorder: Recorder, idle: deque[_Slot]) -> None:
        keys = ["bank"] if self.spec.model == "bank" else \
            [f"k{i}" for i in range(self.spec.keys)]
        kind = {"set": OpKind.READ_SET, "queue": OpKind.DEQUEUE,
                "bank": OpKind.READ_BANK}.get(self.spec.model, OpKind.READ)
        # A queue is drained: dequeue until empty, bounded by what could be in it.
        limit = self.stats.invoked + 1 if kind is OpKind.DEQUEUE else 1

        async def read(slot: _Slot, keys: list[str]) -> None:
            for key in keys:
                for _ in range(limit):
                    self.stats.final += 1
                    ok, value = await self._perform(recorder, None, slot, _Op(kind, key, None))
                    if not ok or kind is not OpKind.DEQUEUE or value is None:
                        break

        slots = list(idle)
        async with asyncio.TaskGroup() as tg:
            for n, slot in enumerate(slots):
                if keys[n::len(slots)]:
                    tg.create_task(read(slot, keys[n::len(slots)]))
