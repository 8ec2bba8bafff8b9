"""Finding and identifying local processes through /proc (Linux).

A pid alone is not an identity: pids are reused. Everywhere faultlab remembers a process
(journal, undo records), it stores the pid *and* the process's start time in clock ticks
since boot, and signals it only if both still match.
"""

from __future__ import annotations

import os
import signal
from pathlib import Path

__all__ = ["ProcessGone", "find_by_name", "is_stopped", "read_pidfile", "send_signal",
           "start_time"]


class ProcessGone(Exception):
    """The process no longer exists, or its pid now belongs to another process."""


def _stat_fields(pid: int) -> list[str] | None:
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except (OSError, ValueError):
        return None
    # The command name (field 2) may contain spaces and parentheses: split after the last ')'.
    return raw[raw.rindex(")") + 2 :].split()


def start_time(pid: int) -> int | None:
    """Start time in clock ticks since boot (field 22 of /proc/pid/stat), None if gone."""
    fields = _stat_fields(pid)
    return int(fields[19]) if fields else None


def state(pid: int) -> str | None:
    fields = _stat_fields(pid)
    return fields[0] if fields else None


def is_stopped(pid: int) -> bool:
    return state(pid) in ("T", "t")


def is_alive(pid: int, started: int | None = None) -> bool:
    st = state(pid)
    if st is None or st in ("Z", "X"):
        return False
    return started is None or start_time(pid) == started


def send_signal(pid: int, sig: signal.Signals, started: int | None) -> None:
    """Signal ``pid`` if it is still the process that started at ``started``."""
    if started is not None and start_time(pid) != started:
        raise ProcessGone(f"process {pid} is gone (or its pid was reused)")
    try:
        os.kill(pid, sig)
    except ProcessLookupError:
        raise ProcessGone(f"process {pid} is gone") from None


def read_pidfile(path: str) -> int:
    try:
        text = Path(path).read_text().strip()
    except OSError as e:
        raise ProcessGone(f"cannot read pid file {path}: {e.strerror}") from None
    if not text.isdigit():
        raise ProcessGone(f"pid file {path} does not hold a pid")
    return int(text)


def find_by_name(name: str) -> list[int]:
    """Pids whose command name or argv[0] basename is ``name`` (like ``pgrep -x``)."""
    found = []
    me = os.getpid()
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == me:
            continue
        try:
            comm = Path(f"/proc/{entry}/comm").read_text().strip()
            argv0 = Path(f"/proc/{entry}/cmdline").read_bytes().split(b"\0", 1)[0].decode(
                errors="replace")
        except OSError:
            continue
        if comm == name or os.path.basename(argv0) == name:
            found.append(int(entry))
    return sorted(found)
