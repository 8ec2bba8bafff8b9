"""Per-service clocks through libfaketime: the library, a service's environment, its control
file, and the detached keepers that reset a clock when a fault's lease lapses.

The kernel cannot skew CLOCK_REALTIME for one process, so faultlab preloads libfaketime into
the services a clock fault targets. Each such service reads its offset from a control file
(``RUN_DIR/clock/<service>.faketime``, ``+0`` at start) that faultlab rewrites atomically
(temporary file + rename: libfaketime never reads a half-written line, and a line it cannot
parse would make it exit the service).

What libfaketime 0.9.10 (Debian's ``faketime`` package) does, as measured here (see
docs/clock.md for the figures):

- ``FAKETIME_CACHE_DURATION=0``: the file is read again at the first clock call in a new
  second of the real clock, so a change is seen within one second; a cached call costs
  about 0.2 us. ``FAKETIME_NO_CACHE=1`` would see it at once but reads the file on every
  call (about 3 us each, 15 times as much), so it is not used; strobe periods are held to 1s
  or more instead.
- ``FAKETIME_DONT_FAKE_MONOTONIC=1``: otherwise CLOCK_MONOTONIC is faked too and jumps to
  the wall clock's value (and Python's ``time.sleep`` hangs); with it, monotonic clocks,
  timeouts and event loops keep real time.
- The offset is read with ``atof`` and split into seconds and nanoseconds through a double;
  :func:`offset_text` writes a spelling that lands exactly on the intended nanosecond, and
  refuses offsets it cannot (never rounding them).
- ``libfaketimeMT.so.1`` (the thread-safe build) is preloaded: services are usually
  multi-threaded, and the plain build re-reads the file without a lock.
"""

from __future__ import annotations

import math
import os
import sys
import time
from collections.abc import Sequence
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING

from faultlab.errors import FaultlabError

if TYPE_CHECKING:
    from faultlab.experiment.model import Experiment

__all__ = ["CLOCK_DIR", "FaketimeError", "clocked_services", "control_file", "find_library",
           "offset_text", "read_offset", "service_env", "strobe", "write_offset"]

LIBRARY = "libfaketimeMT.so.1"
_LIBRARY_DIRS = ("/usr/lib/x86_64-linux-gnu/faketime", "/usr/lib/aarch64-linux-gnu/faketime",
                 "/usr/lib64/faketime", "/usr/lib/faketime", "/usr/local/lib/faketime")
#: the offset of a clock nobody faults
ZERO = "+0"
#: under the run directory: one control file per service started under libfaketime
CLOCK_DIR = "clock"
#: how often a strobe keeper looks for its fault's first write (the inject's go)
_POLL = 0.01


class FaketimeError(FaultlabError):
    """libfaketime is missing, or an offset cannot be given to it exactly."""


def find_library() -> str:
    """The path of libfaketime's thread-safe build; FaketimeError with a hint if absent."""
    for directory in _LIBRARY_DIRS:
        path = os.path.join(directory, LIBRARY)
        if os.path.exists(path):
            return path
    raise FaketimeError(f"libfaketime ({LIBRARY}) is not installed (looked in "
                        f"{', '.join(_LIBRARY_DIRS)}); install Debian's faketime package "
                        "(apt-get install faketime)")


def control_file(run_dir: Path, service: str) -> Path:
    return run_dir / CLOCK_DIR / f"{service}.faketime"


def service_env(control: Path, preload: str | None = None) -> dict[str, str]:
    """What to add to a service's environment so that its clock follows ``control``.

    ``preload`` is the service's own LD_PRELOAD, kept after libfaketime. A ``FAKETIME``
    variable would override the file: the caller removes it."""
    library = find_library()
    return {
        "LD_PRELOAD": f"{library}:{preload}" if preload else library,
        "FAKETIME_TIMESTAMP_FILE": str(control),
        "FAKETIME_CACHE_DURATION": "0",  # re-read at each new real second
        "FAKETIME_DONT_FAKE_MONOTONIC": "1",  # timeouts and event loops keep real time
    }


def clocked_services(exp: Experiment) -> frozenset[str]:
    """Services some fault of ``exp`` acts on through libfaketime (a spec whose class says
    ``needs_faketime``): they are started under it."""
    found: set[str] = set()
    for spec in exp.faults:
        if not getattr(type(spec), "needs_faketime", False):
            continue
        for name in spec.target_names:
            target = exp.target(name)
            if target is not None and target.process is not None and target.process.service:
                found.add(target.process.service)
    return frozenset(found)


# --- offsets ---------------------------------------------------------------------------------

def _as_libfaketime_reads(text: str) -> int:
    """The offset in nanoseconds libfaketime takes from ``text``: ``atof``, then
    ``tv_sec = floor(d)`` and ``tv_nsec = (d - tv_sec) * 1e9`` truncated (IEEE doubles in
    C and in Python give the same results)."""
    d = float(text)
    sec = math.floor(d)
    return sec * 1_000_000_000 + int((d - sec) * 1e9)


def offset_text(seconds: float) -> str:
    """The control-file line for an offset of ``seconds``: ``+30``, ``-2.5``, ``+0.001``.

    Whole seconds are written without a decimal point (read the same in every locale).
    Refuses (FaketimeError, with a hint) an offset finer than a microsecond, and one that
    libfaketime's double arithmetic would not read back to the very nanosecond."""
    exact = Decimal(repr(float(seconds)))
    nanos = exact * 1_000_000_000
    if nanos % 1000 != 0:
        raise FaketimeError(f"clock offset {seconds!r}s is finer than a microsecond; "
                            "write it in whole microseconds (e.g. 1.5s, 250ms, 10us)")
    target = int(nanos)
    sign = "-" if target < 0 else "+"
    whole, frac = divmod(abs(target), 1_000_000_000)
    if frac == 0:
        return f"{sign}{whole}"
    digits = f"{frac:09d}".rstrip("0")
    # The plain decimal may land a nanosecond short (truncation); a trailing 5 (half a
    # nanosecond more) is read as the same nanosecond and absorbs that.
    for text in (f"{sign}{whole}.{digits}", f"{sign}{whole}.{frac:09d}5"):
        if _as_libfaketime_reads(text) == target:
            return text
    raise FaketimeError(f"clock offset {seconds!r}s cannot be given to libfaketime exactly "
                        "(it reads offsets through a double, which holds so many digits for "
                        "an offset this large); use whole seconds or a smaller offset")


def write_offset(path: Path, text: str) -> None:
    """Replace the control file's line atomically (a reader sees the old or the new line)."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(tmp, "w", encoding="ascii") as f:
        f.write(text + "\n")
    os.replace(tmp, path)


def read_offset(path: Path) -> str:
    return path.read_text(encoding="ascii").strip()


# --- the detached keepers ------------------------------------------------------------------

def keeper_argv(path: Path, lease: float, strobe_offset: str | None = None,
                period: float = 0.0) -> list[str]:
    """A keeper's command line: it resets ``path`` to +0 when ``lease`` seconds have passed
    (and strobes meanwhile if given an offset and a period)."""
    argv = [sys.executable, "-m", "faultlab.faketime"]
    if strobe_offset is None:
        return [*argv, "hold", str(path), f"{lease:.3f}"]
    return [*argv, "strobe", str(path), strobe_offset, f"{period:.6f}", f"{lease:.3f}"]


def hold(path: Path, lease: float) -> None:
    """Sleep until the lease lapses, then reset the clock."""
    time.sleep(lease)
    write_offset(path, ZERO)


def strobe(path: Path, offset: str, period: float, lease: float) -> None:
    """Flip the clock between ``offset`` and +0 every ``period`` until the lease lapses;
    then reset it to +0.

    Started before the fault's undo record is journaled, it changes nothing until the
    inject's own first write (the file reads ``offset``): the fault is journaled before the
    clock moves."""
    deadline = time.monotonic() + lease
    while time.monotonic() < deadline:
        try:
            if read_offset(path) == offset:
                break
        except OSError:
            pass
        time.sleep(_POLL)
    current = offset
    next_flip = time.monotonic() + period
    while next_flip < deadline:
        time.sleep(max(0.0, next_flip - time.monotonic()))
        current = ZERO if current == offset else offset
        write_offset(path, current)
        next_flip += period
    time.sleep(max(0.0, deadline - time.monotonic()))
    write_offset(path, ZERO)


def main(argv: Sequence[str]) -> int:
    try:
        if len(argv) == 3 and argv[0] == "hold":
            hold(Path(argv[1]), float(argv[2]))
            return 0
        if len(argv) == 5 and argv[0] == "strobe":
            strobe(Path(argv[1]), argv[2], float(argv[3]), float(argv[4]))
            return 0
    except (OSError, ValueError) as e:
        print(f"faultlab.faketime: {e}", file=sys.stderr)
        return 1
    print("usage: python -m faultlab.faketime hold FILE LEASE\n"
          "       python -m faultlab.faketime strobe FILE OFFSET PERIOD LEASE", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
