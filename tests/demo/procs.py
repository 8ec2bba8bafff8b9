"""Start demo services as real OS processes for tests, and always reap them.

A :class:`ProcessGroup` launches services in parallel (start-up dominates these tests),
waits for each one's ``ready on`` line, and stops every process it ever started in
:meth:`ProcessGroup.stop_all`, which the fixtures call as a finalizer, so a failing test
never leaks a server. Ports are picked by binding port 0 and closing; if another process
grabs one in between, the service exits with status 1 and the whole launch is retried on
fresh ports.
"""

from __future__ import annotations

import os
import select
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import IO

HOST = "127.0.0.1"
READY_TIMEOUT = 15.0


class PortTaken(Exception):
    """A service could not bind its port: someone took it after we picked it."""


def free_ports(count: int) -> list[int]:
    """``count`` distinct ports the kernel considers free right now."""
    sockets = []
    try:
        for _ in range(count):
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.bind((HOST, 0))
            sockets.append(sock)
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


def url(port: int) -> str:
    return f"http://{HOST}:{port}"


def service_argv(service: str, port: int, *extra: str) -> list[str]:
    return [sys.executable, "-m", "faultlab.demo.services", service, "--port", str(port), *extra]


@dataclass
class Service:
    """One running service process and how to start it again."""

    name: str
    port: int
    argv: list[str]
    proc: subprocess.Popen[bytes]

    @property
    def url(self) -> str:
        return url(self.port)

    def kill(self) -> None:
        """SIGKILL, as an experiment's process fault would; reaps the process."""
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(timeout=10)

    def stop(self, sig: int = signal.SIGTERM) -> int:
        """Ask the process to exit; SIGKILL after 10 s. Returns the exit status."""
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        if self.proc.stdout is not None:
            self.proc.stdout.close()
        return self.proc.returncode


@dataclass
class ProcessGroup:
    """Every service process a test started; :meth:`stop_all` reaps them all."""

    started: list[Service] = field(default_factory=list)

    def launch(self, specs: Sequence[tuple[str, list[str]]]) -> list[Service]:
        """Start ``(name, argv)`` processes at once, then wait until each is ready."""
        services = [self.spawn(name, argv) for name, argv in specs]
        for service in services:
            wait_ready(service)
        return services

    def spawn(self, name: str, argv: list[str], stderr: IO[bytes] | None = None) -> Service:
        """Start a process without waiting for it; it is reaped by :meth:`stop_all`."""
        proc = subprocess.Popen(
            argv, stdout=subprocess.PIPE, stdin=subprocess.DEVNULL, stderr=stderr
        )
        service = Service(name, int(argv[argv.index("--port") + 1]), argv, proc)
        self.started.append(service)
        return service

    def restart(self, service: Service) -> Service:
        """Start the same command line again (same port), as a restart fault would."""
        service.kill()
        (again,) = self.launch([(service.name, service.argv)])
        return again

    def stop_all(self) -> None:
        for service in self.started:
            service.stop()


def wait_ready(service: Service, timeout: float = READY_TIMEOUT) -> str:
    """Block until the ``ready on`` line; return its ``host:port``. PortTaken on bind races."""
    assert service.proc.stdout is not None
    fd = service.proc.stdout.fileno()
    deadline = time.monotonic() + timeout
    while (remaining := deadline - time.monotonic()) > 0:
        readable, _, _ = select.select([fd], [], [], remaining)
        if not readable:
            break
        line = service.proc.stdout.readline().decode()
        if line.startswith("ready on "):
            return line.removeprefix("ready on ").strip()
        if line == "":
            status = service.proc.wait(timeout=10)
            if status == 1:
                raise PortTaken(f"{service.name} could not bind port {service.port}")
            raise RuntimeError(f"{service.name} exited with status {status} before ready")
    raise TimeoutError(f"{service.name} (pid {service.proc.pid}) not ready within {timeout}s")


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True
