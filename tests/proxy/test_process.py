"""The proxy server as its own process: spawn, use, leases without a client, stop."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from faultlab.proxy.client import ProxyApiError, ProxyClient
from faultlab.proxy.process import (
    ProxyServerError,
    ProxyServerHandle,
    spawn_proxy_server,
    stop_pid,
)

from .helpers import Conn, TcpServer, events

SERVE = [sys.executable, "-m", "faultlab.proxy", "serve"]


@pytest.fixture
async def spawned(tmp_path: Path) -> AsyncIterator[ProxyServerHandle]:
    handle = await spawn_proxy_server(tmp_path / "proxy.log", seed=5)
    try:
        yield handle
    finally:
        await handle.stop()


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


async def test_spawned_server_relays_and_stops_cleanly_on_sigterm(
        spawned: ProxyServerHandle, echo_server: TcpServer, conns: list[Conn]) -> None:
    # Its own session: the terminal's Ctrl-C (sent to our process group) cannot reach it.
    assert os.getsid(spawned.pid) == spawned.pid != os.getsid(0)
    async with ProxyClient(spawned.api_url) as client:
        listen = (await client.create_proxy("db", "127.0.0.1:0", echo_server.address))["listen"]
    conn = await Conn.open(listen)
    conns.append(conn)
    assert (await conn.round_trip(b"hello"))[0] == b"hello"
    assert await spawned.stop() == 0
    assert await asyncio.wait_for(conn.reader.read(), 5) == b""  # its connections closed
    names = [e["event"] for e in events(spawned.log_path.read_text())]
    assert names[0] == "api_listening"
    assert names[-2:] == ["stopping", "stopped"]
    assert "proxy_created" in names
    assert await spawned.stop() == 0  # idempotent


async def test_leases_lapse_with_no_client_left(spawned: ProxyServerHandle,
                                                echo_server: TcpServer) -> None:
    async with ProxyClient(spawned.api_url) as client:
        await client.create_proxy("db", "127.0.0.1:0", echo_server.address)
        await client.add_toxic("db", "latency", {"latency": 1000}, ttl=0.5)
        await client.set_enabled("db", False, ttl=0.5)
    # The client that set them is gone; the server alone must undo both faults.
    await asyncio.sleep(0.6)
    async with ProxyClient(spawned.api_url) as observer:
        deadline = time.monotonic() + 5
        while True:
            proxy = await observer.get_proxy("db")
            if proxy["enabled"] and not proxy["toxics"]:
                break
            assert time.monotonic() < deadline, proxy
            await asyncio.sleep(0.05)


async def test_a_server_that_cannot_start_is_reported_with_its_log(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FAULTLAB_PROXY_TOKEN", "s3cret")  # beyond loopback needs one
    with pytest.raises(ProxyServerError, match="exited with status 1") as caught:
        await spawn_proxy_server(tmp_path / "proxy.log", api_host="192.0.2.1")  # not ours
    assert "startup_failed" in str(caught.value)


async def test_an_api_beyond_loopback_without_a_token_is_refused(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("FAULTLAB_PROXY_TOKEN", raising=False)
    with pytest.raises(ProxyServerError, match="exited with status 2") as caught:
        await spawn_proxy_server(tmp_path / "proxy.log", api_host="0.0.0.0")
    assert "without a token" in str(caught.value)


async def test_config_file_creates_proxies_and_toxics(tmp_path: Path,
                                                      echo_server: TcpServer) -> None:
    config = tmp_path / "proxies.json"
    config.write_text(json.dumps([{
        "name": "db", "listen": "127.0.0.1:0", "upstream": echo_server.address,
        "toxics": [{"type": "latency", "attributes": {"latency": 5}}]}]))
    ready = tmp_path / "ready"
    process = await asyncio.create_subprocess_exec(
        *SERVE, "--api", "127.0.0.1:0", "--config", str(config), "--ready-file", str(ready),
        stderr=asyncio.subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 10
        while not ready.exists():
            assert time.monotonic() < deadline and process.returncode is None
            await asyncio.sleep(0.02)
        async with ProxyClient(f"http://{ready.read_text()}") as client:
            proxy = await client.get_proxy("db")
        assert proxy["enabled"]
        assert [t["name"] for t in proxy["toxics"]] == ["latency_downstream"]
    finally:
        process.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(process.wait(), 10) == 0


@pytest.mark.parametrize(("arguments", "code", "message"), [
    (["--api", "nonsense"], 2, "missing port"),
    (["--api", "127.0.0.1:0", "--config", "/nonexistent.json"], 1, "cannot read"),
])
def test_bad_command_lines_fail_with_a_message(arguments: list[str], code: int,
                                               message: str) -> None:
    result = subprocess.run([*SERVE, *arguments], capture_output=True, text=True, timeout=30,
                            check=False)
    assert result.returncode == code
    assert message in result.stderr


def test_stop_pid_stops_an_orphaned_server(tmp_path: Path) -> None:
    ready = tmp_path / "ready"
    orphan = subprocess.Popen([*SERVE, "--api", "127.0.0.1:0", "--ready-file", str(ready)],
                              stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.monotonic() + 10
        while not ready.exists():
            assert time.monotonic() < deadline and orphan.poll() is None
            time.sleep(0.02)
        assert stop_pid(orphan.pid) is True
        assert not alive(orphan.pid)
        assert stop_pid(orphan.pid) is False  # already gone
    finally:
        if orphan.poll() is None:
            orphan.kill()
            orphan.wait()


def test_stop_pid_leaves_other_programs_alone() -> None:
    other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        assert stop_pid(other.pid) is False
        assert other.poll() is None
    finally:
        other.kill()
        other.wait()


async def test_spawned_server_reports_its_instance_and_requires_its_token(
        tmp_path: Path) -> None:
    handle = await spawn_proxy_server(tmp_path / "proxy.log", instance_id="run-42",
                                      token="t0ken-secret")
    try:
        assert handle.instance_id == "run-42"
        # The token reaches the server through its environment, not its (public) argv.
        cmdline = await asyncio.to_thread(Path(f"/proc/{handle.pid}/cmdline").read_bytes)
        assert b"t0ken-secret" not in cmdline
        async with ProxyClient(handle.api_url, token="t0ken-secret") as client:
            assert await client.instance() == "run-42"
            assert await client.list_proxies() == {}
        async with ProxyClient(handle.api_url) as anonymous:
            with pytest.raises(ProxyApiError) as refused:
                await anonymous.list_proxies()
        assert refused.value.status == 401
    finally:
        await handle.stop()
    random_id = await spawn_proxy_server(tmp_path / "other.log")
    try:
        assert random_id.instance_id and random_id.instance_id != "run-42"
        async with ProxyClient(random_id.api_url) as client:
            assert await client.instance() == random_id.instance_id
    finally:
        await random_id.stop()


async def test_instance_is_none_for_a_server_that_reports_none() -> None:
    """Real Toxiproxy answers 404 '404 page not found' and has no instance header."""
    async def toxiproxy_like(reader: asyncio.StreamReader,
                             writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"HTTP/1.1 404 Not Found\r\nContent-Type: text/plain; charset=utf-8\r\n"
                     b"Content-Length: 19\r\nConnection: close\r\n\r\n404 page not found\n")
        await writer.drain()

    server = await TcpServer(toxiproxy_like).start()
    try:
        async with ProxyClient(f"http://{server.address}") as client:
            assert await client.instance() is None
    finally:
        await server.close()


def test_the_server_process_freezes_its_start_up_objects_out_of_the_collector() -> None:
    """tune_gc (called by the server process, not by tests' in-loop servers) freezes what
    the imports made and raises the first threshold; in a process of its own, so that this
    test session's collector is left alone."""
    program = ("import gc; from faultlab.proxy.server import GC_GEN0_THRESHOLD, tune_gc; "
               "before = gc.get_threshold(); tune_gc(); "
               "print(gc.get_freeze_count() > 10_000, gc.get_threshold()[0] == GC_GEN0_THRESHOLD,"
               " gc.get_threshold()[1:] == before[1:])")
    result = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True,
                            check=True, timeout=60)
    assert result.stdout.split() == ["True", "True", "True"]
