"""The cyclic garbage collector during a command's start-up.

Importing faultlab's modules (and pydantic, yaml, asyncio) and building the models of an
experiment make tens of thousands of containers that live as long as the process and form
few cycles. With the default thresholds the collector walks them again and again while they
are made (10 ms of a `validate`, 38 ms of a trivial run, by benchmarks/run_startup.py with
and without the hold, one after the other). So ``faultlab`` holds the collector back from
its first line (:func:`hold`) until the command has what it needs and starts its own work
(:func:`settle`): then what start-up made is frozen (``gc.freeze``: never examined again, so
later full collections walk only what the work makes, as the proxy server does for its
relay) and collection resumes with the usual thresholds. A command that never settles ends
within its start-up (``validate``, ``version``) or settles at the top of its work; cyclic
garbage made before that stays until then, which start-up's is not much of.

At exit the interpreter's last collections would walk every object still alive (a `faultlab
validate` took 182 -> 164 ms of CPU without them, benchmarks/startup_ab.py): the process is
ending, and its files are closed by reference counting whatever the collector does, so
:func:`hold` also has what is alive then frozen first (after every other exit handler).
Garbage in a cycle at that moment is not finalized; nothing of faultlab's relies on that.
"""

from __future__ import annotations

import atexit
import gc

__all__ = ["hold", "settle"]

_held = False
_exit_frozen = False


def hold() -> None:
    """Stop automatic collection until :func:`settle` (the ``faultlab`` command's first
    call; a library user's process is never touched)."""
    global _held, _exit_frozen
    if gc.isenabled():
        gc.disable()
        _held = True
    if not _exit_frozen:
        _exit_frozen = True
        atexit.register(gc.freeze)  # registered first, so it runs last


def settle() -> None:
    """Freeze what exists now and let the collector run again, if :func:`hold` stopped it
    (idempotent; a collector someone else disabled stays disabled)."""
    global _held
    if _held:
        _held = False
        gc.freeze()
        gc.enable()
