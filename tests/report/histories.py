"""Recorded histories for the report tests, written through the real :class:`Recorder`:
a cas-register with one stale read, and a grow-only set with one stale read. The story
workload (``story.py``) records them during a run; the real checkers judge them."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

from faultlab.history import History, Outcome, Recorder


class FakeClock:
    def __init__(self) -> None:
        self.t = 0.0

    def now(self) -> float:
        return self.t

    def wall(self) -> float:
        return 1_780_000_000.0 + self.t

    async def sleep_until(self, deadline: float) -> None:  # pragma: no cover - unused
        self.t = max(self.t, deadline)


def register_history(sink: Path, *, ops: int = 160, stale_at: int = 100, seed: int = 23
                     ) -> History:
    """A cas-register on key ``k0`` (and traffic on ``k1``) driven by 5 processes, correct
    except one stale read: operation ``stale_at`` or the first read after it returns the
    value before the last acknowledged write. One write times out (``info``) just before it
    and its process is retired, as the history workload does."""
    rng = random.Random(seed)
    clock = FakeClock()
    # Plan: (process, invoke, complete, f, key); the register's value is decided at each
    # operation's linearization point (mid-way), so the history is linearizable by design.
    plan: list[tuple[int, float, float, str, str]] = []
    free = dict.fromkeys(range(5), 0.0)
    for _ in range(ops):
        p = min(free, key=lambda q: (free[q], q))
        start = free[p] + rng.uniform(0.001, 0.012)
        end = start + rng.uniform(0.004, 0.030)
        f = rng.choice(["read", "read", "write", "cas"])
        plan.append((p, start, end, f, "k0" if rng.random() < 0.85 else "k1"))
        free[p] = end
    plan.sort(key=lambda e: e[1])
    state: dict[str, int | None] = {"k0": None, "k1": None}
    written: list[tuple[float, int]] = []  # (ack time, value) of k0 writes
    results: dict[int, tuple[Outcome, Any]] = {}
    counter = iter(range(1, 10_000))
    stale_done = False
    by_midpoint = sorted(enumerate(plan), key=lambda e: (e[1][1] + e[1][2]) / 2)
    for i, (_p, start, end, f, key) in by_midpoint:
        if f == "write":
            v = next(counter)
            state[key] = v
            results[i] = (Outcome.OK, v)
            if key == "k0":
                written.append((end, v))
        elif f == "cas":
            cur = state[key]
            if cur is not None and rng.random() < 0.7:
                v = next(counter)
                state[key] = v
                results[i] = (Outcome.OK, (cur, v))
            else:
                results[i] = (Outcome.FAIL, (cur if cur is not None else 0, next(counter)))
        else:
            seen = state[key]
            if (not stale_done and i >= stale_at and key == "k0" and len(written) >= 2):
                acked = [v for t, v in written if t < start]
                if len(acked) >= 2 and acked[-1] == seen:
                    seen, stale_done = acked[-2], True
            results[i] = (Outcome.OK, seen)
    assert stale_done, "no read to make stale; change the seed"
    with sink.open("w", encoding="utf-8") as out:
        recorder = Recorder(clock, sink=out)
        # invoke and complete in time order, each process strictly sequential
        events = sorted([(s, 0, i) for i, (_, s, _, _, _) in enumerate(plan)]
                        + [(e, 1, i) for i, (_, _, e, _, _) in enumerate(plan)])
        handles: dict[int, Any] = {}
        timeout = next(i for i, e in enumerate(plan) if e[3] == "write" and e[4] == "k0"
                       and i >= stale_at - 6)
        for t, kind, i in events:
            clock.t = t
            p, _, _, f, key = plan[i]
            outcome, value = results[i]
            if kind == 0:
                invoked = None if f == "read" else value
                handles[i] = recorder.invoke(p if i <= timeout or p != plan[timeout][0]
                                             else p + 5, f, invoked, key=key)
            elif i == timeout:
                handles[i].info("timed out after 1s")
            elif outcome is Outcome.FAIL:
                handles[i].fail("cas mismatch")
            else:
                handles[i].ok(value)
        return recorder.close()


def set_history(sink: Path) -> History:
    """A grow-only set: 3 processes add 1..24 and read; read #``stale`` misses element 5,
    acknowledged before it began and present in every later read (a stale read)."""
    clock = FakeClock()
    with sink.open("w", encoding="utf-8") as out:
        recorder = Recorder(clock, sink=out)
        present: list[int] = []
        t, element, stale = 0.0, 1, False
        for step in range(48):
            p = step % 3
            clock.t = t
            if step % 2 == 0:
                h = recorder.invoke(p, "add", element)
                clock.t = t + 0.004
                h.ok()
                present.append(element)
                element += 1
            else:
                h = recorder.invoke(p, "read")
                clock.t = t + 0.005
                seen = list(present)
                if not stale and 5 in seen and len(seen) >= 7:
                    seen.remove(5)
                    stale = True
                h.ok(tuple(seen))
            t += 0.006
        return recorder.close()
