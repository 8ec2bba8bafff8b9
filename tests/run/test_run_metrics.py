"""`faultlab run --metrics`: the run's own Prometheus endpoint while it lasts (the workload's
requests and latency, the faults in force, the phase), on loopback only; a taken port or a
non-loopback address is refused before anything of the run exists."""

from __future__ import annotations

import re
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from faultlab.ports import free_ports
from faultlab.run.metrics import MetricsError, parse_address

EXPERIMENT = """
name: metered
system:
  services:
    web:
      command: ["{python}", -m, http.server, "{web}", --bind, 127.0.0.1]
      ready: {{http: "http://127.0.0.1:{web}/", timeout: 15s}}
targets:
  web-link:
    proxy: {{listen: "127.0.0.1:{proxy}", upstream: "127.0.0.1:{web}"}}
workload:
  http: {{url: "http://127.0.0.1:{proxy}/", rate: 20/s, timeout: 2s}}
faults:
  - {{name: slow-web, target: web-link, kind: latency, delay: 5ms, start: 1s, duration: 5s}}
"""


def test_addresses_are_loopback_host_and_port() -> None:
    assert parse_address("127.0.0.1:9464") == ("127.0.0.1", 9464)
    assert parse_address("[::1]:0") == ("::1", 0)
    for bad in ("0.0.0.0:9464", "10.1.2.3:80", "localhost:9464", "127.0.0.1", "127.0.0.1:x",
                "127.0.0.1:70000"):
        with pytest.raises(MetricsError, match=re.escape("hint: --metrics 127.0.0.1:9464")):
            parse_address(bad)


def _scrape(url: str) -> str | None:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return str(response.read().decode())
    except OSError:
        return None


@pytest.mark.timeout(300)
def test_a_run_serves_its_metrics_while_it_lasts(tmp_path: Path) -> None:
    web, proxy, metrics = free_ports(3)
    exp = tmp_path / "metered.yaml"
    exp.write_text(EXPERIMENT.format(python=sys.executable, web=web, proxy=proxy))
    url = f"http://127.0.0.1:{metrics}/metrics"
    run = subprocess.Popen([sys.executable, "-m", "faultlab", "run", str(exp), "--quiet",
                            "--run-dir", str(tmp_path / "run"), "--metrics",
                            f"127.0.0.1:{metrics}"], stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, text=True)
    seen_fault = seen_requests = None
    try:
        for _ in range(6000):  # bounded; each scrape is quick, the run lasts seconds
            if run.poll() is not None:
                break
            text = _scrape(url)
            if text is not None:
                if 'faultlab_fault_active{fault="slow-web",kind="latency",target="web-link"} 1' \
                        in text:
                    seen_fault = text
                if 'faultlab_workload_requests_total{outcome="ok",workload="http"}' in text:
                    seen_requests = text
            time.sleep(0.05)
        out, err = run.communicate(timeout=120)
    finally:
        if run.poll() is None:
            run.terminate()
            run.communicate(timeout=60)
    assert run.returncode == 0, out + err
    assert seen_fault is not None, "the fault was never seen active at the endpoint"
    assert 'faultlab_run_info{experiment="metered"' in seen_fault
    assert 'phase="faults"' in seen_fault
    assert seen_requests is not None and "faultlab_workload_latency_seconds" in seen_requests
    assert _scrape(url) is None  # gone with the run


def test_a_taken_port_or_a_public_address_starts_nothing(tmp_path: Path) -> None:
    exp = tmp_path / "metered.yaml"
    web, proxy = free_ports(2)
    exp.write_text(EXPERIMENT.format(python=sys.executable, web=web, proxy=proxy))
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        out = subprocess.run([sys.executable, "-m", "faultlab", "run", str(exp), "--metrics",
                              f"127.0.0.1:{port}", "--run-dir", str(tmp_path / "run")],
                             capture_output=True, text=True, timeout=120)
    assert out.returncode == 2 and "cannot listen" in out.stderr and "hint:" in out.stderr
    assert not (tmp_path / "run").exists()  # nothing of the run was made
    out = subprocess.run([sys.executable, "-m", "faultlab", "run", str(exp), "--metrics",
                          "0.0.0.0:9464"], capture_output=True, text=True, timeout=120)
    assert out.returncode == 2 and "loopback only" in out.stderr
