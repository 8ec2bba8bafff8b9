"""The process contract faultlab relies on to start, kill and restart demo services."""

from __future__ import annotations

import asyncio
import signal
import socket
import subprocess
from pathlib import Path

import pytest

from faultlab.demo.services.__main__ import parse_args
from faultlab.demo.services.serve import SHUTDOWN_GRACE

from .helpers import client, get
from .procs import PortTaken, ProcessGroup, free_ports, pid_alive, service_argv, url, wait_ready

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_pid_file_lives_as_long_as_the_process(
    processes: ProcessGroup, tmp_path: Path, sig: int
) -> None:
    pid_file = tmp_path / "data.pid"
    (port,) = free_ports(1)
    (data,) = processes.launch([("data", service_argv("data", port, "--pid-file", str(pid_file)))])
    assert pid_file.read_text().strip() == str(data.proc.pid)
    assert data.stop(sig) == 0
    assert not pid_file.exists()
    assert not pid_alive(data.proc.pid)


def test_port_zero_reports_the_port_chosen(processes: ProcessGroup) -> None:
    data = processes.spawn("data", service_argv("data", 0))
    host, port = wait_ready(data).rsplit(":", 1)
    assert host == "127.0.0.1"
    assert int(port) > 0
    with socket.create_connection((host, int(port)), timeout=5):
        pass
    assert data.stop() == 0


def test_a_taken_port_is_reported_with_status_1(processes: ProcessGroup) -> None:
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        port = squatter.getsockname()[1]
        with pytest.raises(PortTaken):
            processes.launch([("data", service_argv("data", port))])


def test_bad_arguments_exit_with_a_usage_error() -> None:
    result = subprocess.run(
        service_argv("inventory", 8000, "--data-url", "localhost:9", "--variant", "naive"),
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == 2
    assert "expected a base URL" in result.stderr


def test_parse_args_maps_each_dependency_flag() -> None:
    options = parse_args(
        ["storefront", "--port", "1", "--inventory-url", "http://h:2", "--variant", "resilient"]
    )
    assert (options.service, options.dependency_url, options.variant) == (
        "storefront",
        "http://h:2",
        "resilient",
    )
    assert parse_args(["data", "--port", "0"]).host == "127.0.0.1"
    with pytest.raises(SystemExit):
        parse_args(["data", "--port", "70000"])
    with pytest.raises(SystemExit):
        parse_args(["inventory", "--port", "1", "--variant", "naive"])  # no --data-url


#: What a demo service may import at start-up, apart from aiohttp, its dependencies and the
#: standard library: faultlab's package itself and the demo, nothing heavier.
HEAVY = ("pydantic", "yaml", "typer", "rich", "hdrhistogram", "prometheus_client", "redis",
         "asyncpg", "hypothesis")


@pytest.mark.parametrize("service", ["data", "inventory", "storefront"])
def test_start_up_imports_only_the_service(
    service: str, processes: ProcessGroup, tmp_path: Path
) -> None:
    """Start-up is on the critical path of every restart fault, so a service imports only
    what it needs. This is what start-up time is made of, checked without a stopwatch (the
    target, < 0.5 s on an idle machine, is a measurement, not something a busy machine can
    assert)."""
    (port,) = free_ports(1)
    flag = {"inventory": "--data-url", "storefront": "--inventory-url"}.get(service)
    extra = [] if flag is None else [flag, "http://127.0.0.1:9", "--variant", "naive"]
    argv = service_argv(service, port, *extra)
    log = tmp_path / "importtime.log"
    with log.open("wb") as err:
        started = processes.spawn(service, [argv[0], "-X", "importtime", *argv[1:]], stderr=err)
    assert wait_ready(started) == f"127.0.0.1:{port}"
    assert started.stop() == 0
    imported = {
        line.rsplit("|", 1)[1].strip()
        for line in log.read_text().splitlines()
        if line.startswith("import time:") and "|" in line
    }
    assert f"faultlab.demo.services.{service}" in imported
    ours = {m for m in imported if m.split(".")[0] == "faultlab"}
    assert {m for m in ours if m != "faultlab" and not m.startswith("faultlab.demo")} == set()
    others = {"data", "inventory", "storefront", "kv"} - {service}
    assert {m for m in ours if m.rsplit(".", 1)[-1] in others} == set()
    assert {m for m in imported if m.split(".")[0] in HEAVY} == set()


async def test_sigterm_ends_a_request_stuck_on_a_dependency_without_timeout(
    processes: ProcessGroup,
) -> None:
    """A naive inventory waits forever on a dependency that never answers; SIGTERM must still
    end the process promptly (a restart fault depends on it) and cleanly."""
    with socket.socket() as blackhole:
        blackhole.bind(("127.0.0.1", 0))
        blackhole.listen()
        hole = url(blackhole.getsockname()[1])
        (port,) = free_ports(1)
        (inv,) = processes.launch(
            [
                (
                    "inventory",
                    service_argv("inventory", port, "--data-url", hole, "--variant", "naive"),
                )
            ]
        )
        async with client() as session:
            stuck = asyncio.create_task(get(session, f"{inv.url}/stock/x"))
            await asyncio.sleep(0.3)
            assert not stuck.done()
            inv.proc.send_signal(signal.SIGTERM)
            # It would wait forever for the request; it waits SHUTDOWN_GRACE (1 s) instead.
            status = await asyncio.to_thread(inv.proc.wait, 10 * SHUTDOWN_GRACE)
            assert status == 0
            stuck.cancel()
            await asyncio.gather(stuck, return_exceptions=True)
