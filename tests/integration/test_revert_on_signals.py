"""Kill a run at a random moment during its faults, again and again, with SIGINT, SIGTERM
and SIGKILL; afterwards no fault may be active: no toxic in the proxy, no disabled proxy, no
paused process, and (after recover) none of the run's processes left running."""

from __future__ import annotations

import asyncio
import random
import signal
import subprocess
import time
from pathlib import Path

import pytest

from faultlab.ports import free_ports
from faultlab.proxy.client import ProxyClient, ProxyInfo, ProxyUnreachable

from .conftest import (
    faultlab,
    is_alive,
    is_stopped,
    journal,
    run_faultlab,
    started_pids,
    wait_for,
)

pytestmark = pytest.mark.slow

EXPERIMENT = """
name: signals
system:
  services:
    sleeper:
      command: [sleep, "120"]
targets:
  link:
    proxy: {{listen: "127.0.0.1:{listen}", upstream: "127.0.0.1:{upstream}"}}
  other:
    proxy: {{listen: "127.0.0.1:{listen2}", upstream: "127.0.0.1:{upstream}"}}
  sleeper:
    process: {{service: sleeper}}
faults:
  - {{name: slow, target: link, kind: latency, delay: 200ms, duration: {duration}}}
  - {{name: cut, target: other, kind: down, duration: {duration}}}
  - {{name: frozen, target: sleeper, kind: pause, duration: {duration}}}
revert: {{lease_grace: 1s, timeout: 3s}}
"""


def write_experiment(tmp_path: Path, duration: str) -> Path:
    path = tmp_path / f"exp-{random.randrange(1 << 30)}.yaml"
    listen, listen2, upstream = free_ports(3)  # distinct: two targets on one port overlap
    path.write_text(EXPERIMENT.format(listen=listen, listen2=listen2, upstream=upstream,
                                      duration=duration))
    return path


def all_injected(run_dir: Path) -> bool:
    return sum(1 for e in journal(run_dir) if e["event"] == "fault_injected") == 3


def proxy_state(api: str) -> dict[str, ProxyInfo]:
    async def get() -> dict[str, ProxyInfo]:
        client = ProxyClient(api)
        try:
            return await client.list_proxies()
        finally:
            await client.close()

    return asyncio.run(get())


def paused_service_pids(run_dir: Path) -> list[int]:
    return [int(e["pid"]) for e in journal(run_dir)
            if e["event"] == "service_started" and is_stopped(int(e["pid"]))]


def assert_nothing_active(run_dir: Path) -> None:
    assert paused_service_pids(run_dir) == []
    api = next(e["api"] for e in journal(run_dir) if e["event"] == "proxy_server_started")
    try:
        proxies = proxy_state(api)
    except ProxyUnreachable:
        return  # the proxy server is gone, and every fault it held with it
    for name, proxy in proxies.items():
        assert proxy["toxics"] == [], f"{name} still has toxics: {proxy['toxics']}"
        assert proxy["enabled"] is True, f"{name} is still disabled"


def start_run(tmp_path: Path, run_dirs: list[Path], duration: str) -> tuple[
        subprocess.Popen[bytes], Path]:
    exp = write_experiment(tmp_path, duration)
    run_dir = tmp_path / f"run-{len(run_dirs)}"
    run_dirs.append(run_dir)
    proc = subprocess.Popen(faultlab("run", str(exp), "--run-dir", str(run_dir), "--quiet"),
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    wait_for(lambda: all_injected(run_dir) or proc.poll() is not None, 20, "faults injected")
    assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
    return proc, run_dir


@pytest.mark.parametrize("attempt", range(3))
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_sigint_sigterm_revert_everything_before_exit(
        tmp_path: Path, run_dirs: list[Path], sig: signal.Signals, attempt: int) -> None:
    proc, run_dir = start_run(tmp_path, run_dirs, "30s")
    time.sleep(random.uniform(0, 0.5))
    sent_at = time.time()
    proc.send_signal(sig)
    code = proc.wait(timeout=30)
    assert code == 3, proc.stderr.read() if proc.stderr else ""
    events = journal(run_dir)
    reverted = {e["fault"]: e["wall"] for e in events if e["event"] == "fault_reverted"}
    assert set(reverted) == {"slow", "cut", "frozen"}
    assert any(e["event"] == "interrupted" for e in events)
    verdict = next(e for e in events if e["event"] == "verdict")
    assert verdict["status"] == "interrupted"
    # Everything the run started is stopped, and nothing stayed paused on the way.
    for pid, started in started_pids(run_dir):
        assert not is_alive(pid, started), f"pid {pid} still running"
    # Reverts happened right after the signal (journal times; reported, not asserted tight).
    print(f"{sig.name}: reverted within {max(reverted.values()) - sent_at:.3f}s")
    assert (run_dir / "result.json").exists()
    assert (run_dir / "junit.xml").exists()


@pytest.mark.parametrize("attempt", range(2))
@pytest.mark.parametrize("then", ["lease", "recover"])
def test_sigkill_faults_lapse_by_lease_and_recover_cleans_up(
        tmp_path: Path, run_dirs: list[Path], then: str, attempt: int) -> None:
    # duration 2s + lease_grace 1s: every lease lapses 3 s after its inject.
    proc, run_dir = start_run(tmp_path, run_dirs, "2s")
    time.sleep(random.uniform(0, 1.5))
    proc.kill()
    proc.wait(timeout=10)
    if then == "lease":
        injected = [e["wall"] for e in journal(run_dir) if e["event"] == "fault_injected"]
        wait_for(lambda: time.time() > max(injected) + 3.5, 10, "leases to lapse")
        assert_nothing_active(run_dir)
    result = run_faultlab(["recover", str(run_dir)])
    assert result.returncode == 0, result.stderr
    assert_nothing_active(run_dir)
    for pid, started in started_pids(run_dir):
        assert not is_alive(pid, started), f"pid {pid} still running after recover"
    again = run_faultlab(["recover", str(run_dir)])
    assert again.returncode == 0, again.stderr
    assert "nothing was active" in again.stdout
