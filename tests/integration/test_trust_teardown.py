"""Nothing is left broken, whatever the moment: signals during tear-down, a SIGKILL between
spawning the proxy server and journaling it, secrets in undo records, a recovered run whose
proxy server was replaced by another one, a pause's keeper. Every process the tests start
is killed at the end, also on failure (the run_dirs fixture and the servers fixture)."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from faultlab.hosts import local_host
from faultlab.ports import free_ports
from faultlab.proxy.client import ProxyClient
from faultlab.run.setup import MARKER_ENV

from .conftest import (
    faultlab,
    free_port,
    is_alive,
    journal,
    run_faultlab,
    started_pids,
    wait_for,
)

pytestmark = pytest.mark.slow


def _events(run_dir: Path) -> list[str]:
    return [e["event"] for e in journal(run_dir)]


def _marked(run_dir: Path) -> list[int]:
    marker = next((e["marker"] for e in journal(run_dir) if e["event"] == "run_started"), None)
    assert marker
    return [p.pid for p in local_host().processes_with_env(MARKER_ENV, marker)]


@pytest.fixture
def servers() -> Iterator[list[subprocess.Popen[bytes]]]:
    procs: list[subprocess.Popen[bytes]] = []
    yield procs
    for p in procs:
        if p.poll() is None:
            p.kill()
        p.wait()


def _serve(procs: list[subprocess.Popen[bytes]], port: int, instance: str,
           env: dict[str, str] | None = None) -> str:
    ready = Path(f"/tmp/faultlab-test-ready-{os.getpid()}-{port}")
    ready.unlink(missing_ok=True)
    p = subprocess.Popen([sys.executable, "-m", "faultlab", "proxy", "serve", "--api",
                          f"127.0.0.1:{port}", "--instance-id", instance, "--ready-file",
                          str(ready)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                         env={**os.environ, **(env or {})})
    procs.append(p)
    wait_for(lambda: ready.exists() or p.poll() is not None, 30, "the proxy server")
    ready.unlink(missing_ok=True)
    assert p.poll() is None
    return f"http://127.0.0.1:{port}"


def _toxics(api: str, proxy: str) -> list[str]:
    async def get() -> list[str]:
        async with ProxyClient(api) as c:
            return [t["name"] for t in (await c.get_proxy(proxy))["toxics"]]
    return asyncio.run(get())


def _setup_proxy(api: str, name: str, toxic: str | None = None) -> None:
    async def go() -> None:
        async with ProxyClient(api) as c:
            listen, upstream = free_ports(2)
            await c.create_proxy(name, f"127.0.0.1:{listen}", f"127.0.0.1:{upstream}")
            if toxic:
                await c.add_toxic(name, "latency", {"latency": 1}, name=toxic)
    asyncio.run(go())


SLOW_STOP = """
version: 1
name: slow-stop
system:
  services:
    stubborn:
      command: [sh, -c, "trap 'sleep 2; exit 0' TERM; while :; do sleep 0.1; done"]
      stop_timeout: 10s
targets:
  link: {{proxy: {{listen: "127.0.0.1:{listen}", upstream: "127.0.0.1:{upstream}"}}}}
faults:
  - {{name: cmd, kind: command, inject: "touch {flag}", revert: [sh, -c, "{revert}"],
     duration: {duration}}}
"""


def _write(tmp_path: Path, flag: Path, duration: str, revert_sleep: float = 0) -> Path:
    exp = tmp_path / "exp.yaml"
    revert = (f"sleep {revert_sleep}; " if revert_sleep else "") + f"rm -f {flag}"
    listen, upstream = free_ports(2)
    exp.write_text(SLOW_STOP.format(listen=listen, upstream=upstream, flag=flag,
                                    duration=duration, revert=revert))
    return exp


def test_signals_while_services_stop_never_skip_a_step(tmp_path: Path,
                                                       run_dirs: list[Path]) -> None:
    """Ctrl-C (three times) while the run stops its services at the end: every service and
    the proxy server still stop; the run's verdict stands; no asyncio noise on stderr."""
    flag = tmp_path / "flag"
    run_dir = tmp_path / "run"
    run_dirs.append(run_dir)
    proc = subprocess.Popen(faultlab("run", str(_write(tmp_path, flag, "1s")), "--run-dir",
                                     str(run_dir), "-q"), stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)
    wait_for(lambda: "teardown_started" in _events(run_dir) or proc.poll() is not None, 60,
             "tear-down to start")
    for _ in range(3):
        proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert "never retrieved" not in err and "Traceback" not in err and "CancelledError" not in err
    for pid, started in started_pids(run_dir):
        assert not is_alive(pid, started), f"pid {pid} still runs"
    assert _marked(run_dir) == []
    teardown = next(e for e in journal(run_dir) if e["event"] == "teardown")
    assert teardown["still_running"] == [] and teardown["active"] == []


def test_signals_while_reverting_wait_for_the_revert(tmp_path: Path,
                                                     run_dirs: list[Path]) -> None:
    flag = tmp_path / "flag"
    run_dir = tmp_path / "run"
    run_dirs.append(run_dir)
    proc = subprocess.Popen(faultlab("run", str(_write(tmp_path, flag, "60s", 1.5)),
                                     "--run-dir", str(run_dir), "-q"),
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    wait_for(lambda: "fault_injected" in _events(run_dir) or proc.poll() is not None, 60,
             "the fault")
    proc.send_signal(signal.SIGINT)
    wait_for(lambda: "teardown_started" in _events(run_dir), 30, "tear-down")
    proc.send_signal(signal.SIGINT)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 3, err
    assert not flag.exists()
    assert "fault_reverted" in _events(run_dir)
    assert "never retrieved" not in err and "Traceback" not in err
    assert _marked(run_dir) == []


def test_sigkill_between_spawning_the_proxy_server_and_journaling_it(
        tmp_path: Path, run_dirs: list[Path]) -> None:
    flag = tmp_path / "flag"
    run_dir = tmp_path / "run"
    run_dirs.append(run_dir)
    proc = subprocess.Popen(faultlab("run", str(_write(tmp_path, flag, "5s")), "--run-dir",
                                     str(run_dir), "-q"),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for(lambda: "proxy_server_starting" in _events(run_dir), 60, "the intent")
        proc.kill()
        proc.wait()
        # Whatever it managed to start (perhaps the server, not yet journaled) is found.
        result = run_faultlab(["recover", str(run_dir)])
        assert result.returncode == 0, result.stdout + result.stderr
        assert _marked(run_dir) == []
    finally:
        for pid in _marked(run_dir):
            os.kill(pid, signal.SIGKILL)


LATENCY = """
version: 1
name: external
targets:
  link: {{proxy: {{api: "{api}", name: shop}}}}
faults:
  - {{name: slow, kind: latency, target: link, delay: 5ms, duration: 60s}}
revert: {{lease_grace: 60s}}
"""


def _run_until_injected(tmp_path: Path, run_dirs: list[Path], text: str,
                        env: dict[str, str] | None = None) -> Path:
    exp = tmp_path / "external.yaml"
    exp.write_text(text)
    run_dir = tmp_path / f"run-{len(run_dirs)}"
    run_dirs.append(run_dir)
    proc = subprocess.Popen(faultlab("run", str(exp), "--run-dir", str(run_dir), "-q"),
                            env={**os.environ, **(env or {})}, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    try:
        wait_for(lambda: "fault_injected" in _events(run_dir) or proc.poll() is not None, 60,
                 "the fault")
        assert proc.poll() is None
    finally:
        proc.kill()
        proc.wait()
    return run_dir


def test_a_secret_api_address_is_recoverable_and_never_journaled(
        tmp_path: Path, run_dirs: list[Path], servers: list[subprocess.Popen[bytes]]) -> None:
    api = _serve(servers, free_port(), "secret-api")
    _setup_proxy(api, "shop")
    env = {"PROXY_API_SECRET": api}
    run_dir = _run_until_injected(tmp_path, run_dirs,
                                  LATENCY.format(api="${env:PROXY_API_SECRET}"), env)
    text = (run_dir / "journal.jsonl").read_text()
    assert api not in text and "${env:PROXY_API_SECRET}" in text
    assert _toxics(api, "shop") == ["faultlab-slow"]
    recovered = subprocess.run(faultlab("recover", str(run_dir)), capture_output=True,
                               text=True, timeout=60, env={**os.environ, **env}, check=False)
    assert recovered.returncode == 0, recovered.stdout + recovered.stderr
    assert _toxics(api, "shop") == []


def test_recover_never_touches_another_server_on_the_old_address(
        tmp_path: Path, run_dirs: list[Path], servers: list[subprocess.Popen[bytes]]) -> None:
    port = free_port()
    api = _serve(servers, port, "first")
    _setup_proxy(api, "shop")
    run_dir = _run_until_injected(tmp_path, run_dirs, LATENCY.format(api=api))
    assert _toxics(api, "shop") == ["faultlab-slow"]
    servers[0].kill()
    servers[0].wait()
    _serve(servers, port, "second")
    _setup_proxy(api, "shop", toxic="faultlab-slow")  # same names, someone else's
    result = run_faultlab(["recover", str(run_dir)])
    assert result.returncode == 0, result.stdout + result.stderr
    assert "another server" in result.stdout
    assert _toxics(api, "shop") == ["faultlab-slow"]


PAUSE = """
version: 1
name: pause-keeper
system:
  services:
    sleeper: {command: [sleep, "120"]}
targets:
  sleeper: {process: {service: sleeper}}
faults:
  - {name: frozen, kind: pause, target: sleeper, duration: 1s}
revert: {lease_grace: 30s}
"""


def test_the_pause_keeper_and_its_sleep_are_gone_after_the_revert(
        tmp_path: Path, run_dirs: list[Path]) -> None:
    exp = tmp_path / "pause.yaml"
    exp.write_text(textwrap.dedent(PAUSE))
    run_dir = tmp_path / "run"
    run_dirs.append(run_dir)
    result = run_faultlab(["run", str(exp), "--run-dir", str(run_dir), "-q"])
    assert result.returncode == 0, result.stdout + result.stderr
    intent = next(e for e in journal(run_dir) if e["event"] == "fault_intent")
    keeper_pid = intent["undo"]["params"]["keeper"][0]
    left = [int(p) for p in os.listdir("/proc") if p.isdigit() and _pgid(int(p)) == keeper_pid
            and local_host().identify(int(p)) is not None]  # zombies wait for their reaper
    assert left == [], f"the keeper's session still has processes {left}"


def _pgid(pid: int) -> int | None:
    try:
        return os.getpgid(pid)
    except OSError:
        return None
