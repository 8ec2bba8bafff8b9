"""Zero-copy relaying with splice(2) for bulk transfers that no data toxic touches.

While a direction's chain is a pass-through and nothing is queued, :func:`relay` moves
bytes socket -> pipe -> socket inside the kernel, never into Python. Invariants:

* it runs in the direction's reader task, so there is still one reader per socket;
* every byte spliced into the pipe is spliced out to the destination before the next read
  and under the pipe's send lock, so the kernel pipe is empty whenever :func:`relay` returns
  or yields the lock, and bytes cannot overtake or be overtaken by the writer task's;
* it returns as soon as a data toxic applies or something is queued (checked before every
  read), so a toxic added to a live connection sees every byte read after it was added;
* where splice is missing (not Linux) or fails for want of pipes, the caller simply goes on
  with its recv/send loop.

The pipes are made only when a read fills the reader's buffer, so idle and chatty
connections cost no extra file descriptors.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import fcntl
import os
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from faultlab.proxy.relay import _Pipe

__all__ = ["AVAILABLE", "Ended", "relay"]

AVAILABLE = sys.platform == "linux" and hasattr(os, "splice")
PIPE_SIZE = 1024 * 1024  # the default pipe-max-size; a smaller pipe still works
_F_SETPIPE_SZ = getattr(fcntl, "F_SETPIPE_SZ", 1031)


class Ended(enum.Enum):
    EOF = "eof"  # the source closed its write half
    TOXIC = "toxic"  # a data toxic applies or data is queued: back to the chain
    ERROR = "error"  # the connection was aborted (the pipe reported it)
    UNAVAILABLE = "unavailable"  # no pipe could be made


async def _ready(loop: asyncio.AbstractEventLoop, fd: int, *, write: bool) -> None:
    future: asyncio.Future[None] = loop.create_future()

    def wake() -> None:
        if not future.done():
            future.set_result(None)

    if write:
        loop.add_writer(fd, wake)
    else:
        loop.add_reader(fd, wake)
    try:
        await future
    finally:
        if write:
            loop.remove_writer(fd)
        else:
            loop.remove_reader(fd)


async def relay(pipe: _Pipe) -> Ended:
    """Splice from ``pipe.src`` to ``pipe.dst`` until EOF, an error or a toxic applies."""
    loop = asyncio.get_running_loop()
    try:
        out_fd, in_fd = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError:
        return Ended.UNAVAILABLE
    flags = os.SPLICE_F_MOVE | os.SPLICE_F_NONBLOCK
    src, dst = pipe.src.fileno(), pipe.dst.fileno()
    try:
        with contextlib.suppress(OSError):
            fcntl.fcntl(in_fd, _F_SETPIPE_SZ, PIPE_SIZE)
        while pipe.chain.passthrough and pipe.idle:
            try:
                size = os.splice(src, in_fd, PIPE_SIZE, flags=flags)
            except BlockingIOError:
                await _ready(loop, src, write=False)
                continue
            except OSError as exc:
                pipe.source_failed(exc)
                return Ended.ERROR
            if size == 0:
                return Ended.EOF
            pipe.stats.received += size
            async with pipe.send_lock:
                left = size
                while left:
                    try:
                        moved = os.splice(out_fd, dst, left, flags=flags)
                    except BlockingIOError:
                        await _ready(loop, dst, write=True)
                        continue
                    except OSError as exc:
                        pipe.destination_failed(exc)
                        return Ended.ERROR
                    left -= moved
                    pipe.delivered += moved
                    pipe.stats.sent += moved
        return Ended.TOXIC
    finally:
        os.close(out_fd)
        os.close(in_fd)
