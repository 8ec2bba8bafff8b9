"""Real servers for the client tests, each started on a free 127.0.0.1 port in a temporary
directory and stopped (by its own pid, never by name) however the test ends.

Redis, PostgreSQL and etcd are the distribution's binaries; PostgreSQL refuses to run as
root, so it runs as the ``postgres`` user with a data directory that user owns. The demo KV
service is faultlab's own, started so that a test can SIGKILL and restart it.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

from faultlab.ports import free_ports

PG_BIN = Path("/usr/lib/postgresql/15/bin")
START_TIMEOUT = 20.0


def missing(binary: str) -> str | None:
    """Why a server cannot be started here, or None."""
    if binary == "postgres":
        if not (PG_BIN / "postgres").exists():
            return f"PostgreSQL 15 is not installed ({PG_BIN}/postgres missing)"
        try:
            pwd.getpwnam("postgres")
        except KeyError:
            return "there is no 'postgres' user to run PostgreSQL as"
        return None
    return None if shutil.which(binary) else f"{binary} is not installed"


def _stop(proc: subprocess.Popen[bytes], sig: signal.Signals = signal.SIGTERM) -> None:
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            proc.send_signal(sig)
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


def _wait(proc: subprocess.Popen[bytes], ready: Callable[[], bool], log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}:\n{_tail(log)}")
        with contextlib.suppress(OSError):
            if ready():
                return
        time.sleep(0.05)
    raise RuntimeError(f"server not ready within {START_TIMEOUT}s:\n{_tail(log)}")


def _tail(log: Path) -> str:
    try:
        return log.read_text(errors="replace")[-3000:]
    except OSError:
        return ""


def _redis_ping(port: int) -> bool:
    with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
        s.sendall(b"PING\r\n")
        return s.recv(16).startswith(b"+PONG")


@contextlib.contextmanager
def redis_server() -> Iterator[str]:
    with tempfile.TemporaryDirectory(prefix="faultlab-redis-") as tmp:
        port = free_ports(1)[0]
        log = Path(tmp) / "redis.log"
        with log.open("wb") as out:
            proc = subprocess.Popen(
                ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                 "--appendonly", "no", "--dir", tmp, "--daemonize", "no"],
                stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        try:
            _wait(proc, lambda: _redis_ping(port), log)
            yield f"127.0.0.1:{port}"
        finally:
            _stop(proc)


@contextlib.contextmanager
def postgres_server() -> Iterator[str]:
    user = pwd.getpwnam("postgres")
    tmp = tempfile.mkdtemp(prefix="faultlab-pg-")
    proc: subprocess.Popen[bytes] | None = None
    try:
        os.chown(tmp, user.pw_uid, user.pw_gid)
        data, log = Path(tmp) / "data", Path(tmp) / "postgres.log"
        subprocess.run([str(PG_BIN / "initdb"), "-D", str(data), "-U", "postgres",
                        "--auth=trust", "-E", "UTF8", "--no-sync"], user="postgres",
                       group=user.pw_gid, extra_groups=[], check=True, cwd=tmp,
                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, timeout=60)
        port = free_ports(1)[0]
        with log.open("wb") as out:
            proc = subprocess.Popen(
                [str(PG_BIN / "postgres"), "-D", str(data), "-p", str(port), "-k", tmp,
                 "-c", "listen_addresses=127.0.0.1", "-c", "fsync=off",
                 "-c", "synchronous_commit=off", "-c", "full_page_writes=off",
                 "-c", "max_connections=100"],
                user="postgres", group=user.pw_gid, extra_groups=[], cwd=tmp,
                stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)

        def ready() -> bool:
            return subprocess.run([str(PG_BIN / "pg_isready"), "-q", "-h", "127.0.0.1",
                                   "-p", str(port)], check=False).returncode == 0

        _wait(proc, ready, log)
        yield f"127.0.0.1:{port}"
    finally:
        if proc is not None:
            _stop(proc, signal.SIGINT)  # "fast" shutdown: does not wait for clients
        shutil.rmtree(tmp, ignore_errors=True)


@contextlib.contextmanager
def etcd_server() -> Iterator[str]:
    with tempfile.TemporaryDirectory(prefix="faultlab-etcd-") as tmp:
        client, peer = free_ports(2)
        log = Path(tmp) / "etcd.log"
        curl, purl = f"http://127.0.0.1:{client}", f"http://127.0.0.1:{peer}"
        with log.open("wb") as out:
            proc = subprocess.Popen(
                ["etcd", "--name", "t", "--data-dir", f"{tmp}/data",
                 "--listen-client-urls", curl, "--advertise-client-urls", curl,
                 "--listen-peer-urls", purl, "--initial-advertise-peer-urls", purl,
                 "--initial-cluster", f"t={purl}", "--logger", "zap", "--log-level", "warn"],
                stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)

        def ready() -> bool:
            with urllib.request.urlopen(f"{curl}/health", timeout=1) as resp:
                return b'"true"' in resp.read()

        try:
            _wait(proc, ready, log)
            yield f"127.0.0.1:{client}"
        finally:
            _stop(proc)


class KvProcess:
    """The demo KV service as a process a test can SIGKILL and restart on the same port."""

    def __init__(self, directory: Path, *, lose_unsynced: bool) -> None:
        self.data_file = directory / "kv.data"
        self.log = directory / "kv.log"
        self.lose_unsynced = lose_unsynced
        self.port = free_ports(1)[0]
        self.proc: asyncio.subprocess.Process | None = None
        self.starts = 0

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    async def start(self) -> None:
        argv = [sys.executable, "-m", "faultlab.demo.services", "kv", "--port", str(self.port),
                "--data-file", str(self.data_file)]
        if self.lose_unsynced:
            argv.append("--lose-unsynced-writes")
        with self.log.open("ab") as err:
            self.proc = await asyncio.create_subprocess_exec(
                *argv, stdout=asyncio.subprocess.PIPE, stderr=err,
                stdin=asyncio.subprocess.DEVNULL)
        assert self.proc.stdout is not None
        line = await asyncio.wait_for(self.proc.stdout.readline(), START_TIMEOUT)
        if not line.startswith(b"ready on"):
            await self.kill()
            raise RuntimeError(f"kv did not start: {line!r}\n{_tail(self.log)}")
        self.starts += 1

    async def kill(self) -> None:
        """SIGKILL: a crash, with no chance to flush anything."""
        if self.proc is not None and self.proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                self.proc.kill()
            await self.proc.wait()

    async def stop(self) -> None:
        if self.proc is not None and self.proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                self.proc.terminate()
            try:
                await asyncio.wait_for(self.proc.wait(), 5)
            except TimeoutError:
                await self.kill()
