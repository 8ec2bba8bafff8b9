"""Running the proxy server as its own process, as the experiment runner does.

The server lives in a separate process, in a session of its own, so that the faults it
holds keep their leases when the runner dies, and so that the terminal's Ctrl-C reaches the
runner only: the runner decides when the proxy stops. The runner records ``pid`` in its
journal; after a crash, :func:`stop_pid` stops the orphan.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import signal
import sys
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["ProxyServerError", "ProxyServerHandle", "spawn_proxy_server", "stop_pid"]

READY_TIMEOUT = 10.0
_POLL = 0.02


class ProxyServerError(RuntimeError):
    """The proxy server process did not start; the message ends with its log."""


@dataclass
class ProxyServerHandle:
    pid: int
    api_url: str
    log_path: Path
    _process: asyncio.subprocess.Process = field(repr=False)
    #: The server's identity (``X-Faultlab-Instance``); journal it with the pid, and check
    #: it with :meth:`ProxyClient.instance` before undoing anything after a crash.
    instance_id: str = ""

    @property
    def returncode(self) -> int | None:
        return self._process.returncode

    async def stop(self, timeout: float = 5.0) -> int:
        """SIGTERM, then SIGKILL if it is still running after ``timeout`` seconds.

        Returns the exit status (0 after a clean stop, negative for a signal). Idempotent.
        """
        process = self._process
        if process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                process.terminate()
            try:
                await asyncio.wait_for(process.wait(), timeout)
            except TimeoutError:
                with contextlib.suppress(ProcessLookupError):
                    process.kill()
        return await process.wait()


def _log_tail(path: Path, size: int = 2000) -> str:
    try:
        return path.read_text(errors="replace")[-size:]
    except OSError:
        return ""


async def spawn_proxy_server(log_path: Path, api_host: str = "127.0.0.1", *,
                             seed: int | None = None,
                             ready_timeout: float = READY_TIMEOUT,
                             instance_id: str | None = None,
                             token: str | None = None,
                             env: Mapping[str, str] | None = None) -> ProxyServerHandle:
    """Start ``python -m faultlab.proxy serve`` on an ephemeral API port; wait until ready.

    Its stderr (the structured event log) goes to ``log_path``. ``instance_id`` (random if
    None) is the server's identity, on ``handle.instance_id``. ``token``, if given, is
    required by the server from every client (it reaches the server through its
    environment, never its command line, which other users can read). Raises
    :class:`ProxyServerError` if it exits or is not ready within ``ready_timeout`` (then it
    is killed).
    """
    host = f"[{api_host}]" if ":" in api_host else api_host
    instance_id = instance_id if instance_id is not None else secrets.token_hex(8)
    # ``env`` adds to the inherited environment (a run's marker, say); without ``token``,
    # FAULTLAB_PROXY_TOKEN is inherited
    environment = {**os.environ, **(env or {})}
    if token is not None:
        environment["FAULTLAB_PROXY_TOKEN"] = token
    with tempfile.TemporaryDirectory(prefix="faultlab-proxy-") as directory:
        ready_file = Path(directory) / "ready"
        command = [sys.executable, "-m", "faultlab.proxy", "serve", "--api", f"{host}:0",
                   "--ready-file", str(ready_file), "--instance-id", instance_id]
        if seed is not None:
            command += ["--seed", str(seed)]
        log_path.parent.mkdir(parents=True, exist_ok=True)
        with log_path.open("ab") as log:
            process = await asyncio.create_subprocess_exec(
                *command, stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.DEVNULL,
                stderr=log, start_new_session=True, env=environment)
        handle = ProxyServerHandle(process.pid, "", log_path, process, instance_id)
        try:
            address = await _wait_ready(process, ready_file, ready_timeout)
        except ProxyServerError as exc:
            await handle.stop(timeout=1.0)
            raise ProxyServerError(f"{exc}; its log {log_path} ends with:\n"
                                   f"{_log_tail(log_path)}") from None
        except BaseException:
            await handle.stop(timeout=1.0)
            raise
    handle.api_url = f"http://{address}"
    return handle


def _read_ready(path: Path) -> str | None:
    """The address in the ready file, once there (a tiny local file: a read cannot block).

    The server renames the file into place, so a file that exists is complete.
    """
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        return None


async def _wait_ready(process: asyncio.subprocess.Process, ready_file: Path,
                      timeout: float) -> str:
    deadline = time.monotonic() + timeout
    while True:
        address = _read_ready(ready_file)
        if address is not None:
            return address
        if process.returncode is not None:
            raise ProxyServerError(f"the proxy server exited with status {process.returncode}")
        if time.monotonic() > deadline:
            raise ProxyServerError(f"the proxy server was not ready after {timeout:g}s")
        await asyncio.sleep(_POLL)


def _cmdline(pid: int) -> list[bytes] | None:
    """The process's arguments, or None where /proc cannot tell."""
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return None


def _is_proxy_server(pid: int) -> bool:
    args = _cmdline(pid)
    if args is None:
        return not Path("/proc").is_dir()  # no /proc (macOS): trust the journal's pid
    return b"serve" in args and (b"faultlab.proxy" in args
                                 or (b"proxy" in args and b"faultlab" in b" ".join(args)))


def _gone(pid: int) -> bool:
    with contextlib.suppress(ChildProcessError):
        reaped, _ = os.waitpid(pid, os.WNOHANG)  # our own child must be reaped to vanish
        if reaped == pid:
            return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    # A zombie whose parent has not reaped it yet has stopped all the same.
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rpartition(")")[2].split()[:1] == ["Z"]


def stop_pid(pid: int, timeout: float = 5.0) -> bool:
    """Stop a proxy server left behind by a crashed runner: SIGTERM, then SIGKILL.

    Returns True if such a process was running and has been stopped. A pid that now
    belongs to some other program (pids are reused) is left alone and gives False.
    """
    if pid <= 0 or _gone(pid) or not _is_proxy_server(pid):
        return False
    for signum, wait in ((signal.SIGTERM, timeout), (signal.SIGKILL, 5.0)):
        try:
            os.kill(pid, signum)
        except ProcessLookupError:
            return True
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            if _gone(pid):
                return True
            time.sleep(_POLL)
    return _gone(pid)
