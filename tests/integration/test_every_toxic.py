"""Every proxy fault kind from an experiment file, in one real run: a real HTTP service
(faultlab's demo data service, started by the experiment), faultlab's proxy in front of it,
open-loop HTTP load through the proxy. Each fault must reach the proxy server as the toxic
its file parameters say (type, stream and attributes in the proxy's units, from its event
log), and be removed again; the abort fault's answers must reach the workload as failures.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from faultlab.ports import free_ports

from .conftest import journal

pytestmark = pytest.mark.slow

# kind, parameters in file units, the toxic the proxy must get (type, stream, attributes)
CASES: list[tuple[str, str, str, str, dict[str, Any]]] = [
    ("latency", "delay: 20ms, jitter: 5ms", "latency", "downstream",
     {"latency": 20, "jitter": 5}),
    ("bandwidth", "rate: 64KB/s", "bandwidth", "downstream", {"rate": 64}),
    ("reset", "after: 10ms, stream: upstream", "reset_peer", "upstream", {"timeout": 10}),
    ("timeout", "after: 300ms", "timeout", "downstream", {"timeout": 300}),
    ("slow_close", "delay: 50ms", "slow_close", "downstream", {"delay": 50}),
    ("slicer", "average_size: 64, size_variation: 16, delay: 200us", "slicer", "downstream",
     {"average_size": 64, "size_variation": 16, "delay": 200}),
    ("limit_data", "bytes: 100", "limit_data", "downstream", {"bytes": 100}),
    ("http_abort", "status: 503, path_prefix: /item", "http_abort", "upstream",
     {"status": 503, "method": "", "path_prefix": "/item", "percent": 100}),
    ("http_delay", "delay: 30ms, method: get", "http_delay", "upstream",
     {"delay": 30, "method": "GET", "path_prefix": ""}),
    ("connect_delay", "delay: 40ms", "connect_delay", "downstream", {"delay": 40}),
    ("connect_refuse", "toxicity: 50%", "connect_refuse", "downstream", {}),
]


def _experiment(tmp_path: Path) -> Path:
    data, proxy = free_ports(2)
    faults = "\n".join(
        f"  - {{name: {kind}, target: link, kind: {kind}, {params}, start: {1.5 * i}s, "
        f"duration: 1s}}" for i, (kind, params, *_rest) in enumerate(CASES))
    path = tmp_path / "toxics.yaml"
    path.write_text(textwrap.dedent(f"""\
        version: 1
        name: every-toxic
        system:
          services:
            data:
              command: ["${{python}}", -m, faultlab.demo.services, data, --port, "{data}"]
              ready: {{http: "http://127.0.0.1:{data}/health", timeout: 30s}}
        targets:
          link:
            proxy: {{listen: "127.0.0.1:{proxy}", upstream: "127.0.0.1:{data}"}}
        workload:
          http: {{url: "http://127.0.0.1:{proxy}/item/1", rate: 20/s, timeout: 1s}}
        hypothesis:
          before: {{for: 1s}}
          after: {{recover_within: 1s, observe: 1s}}
        faults:
        """) + faults + "\n")
    return path


def test_every_proxy_kind_reaches_the_proxy_as_written(tmp_path: Path) -> None:
    exp = _experiment(tmp_path)
    run_dir = tmp_path / "run"
    out = subprocess.run([sys.executable, "-m", "faultlab", "run", str(exp), "--run-dir",
                          str(run_dir), "-q"], capture_output=True, text=True, timeout=300,
                         check=False)
    assert out.returncode == 0, out.stdout + out.stderr
    events = journal(run_dir)
    injected = [e["fault"] for e in events if e["event"] == "fault_injected"]
    reverted = [e["fault"] for e in events if e["event"] == "fault_reverted"]
    assert injected == [c[0] for c in CASES] and sorted(reverted) == sorted(injected)
    log = [json.loads(line) for line in (run_dir / "logs" / "proxy.log").read_text()
           .splitlines() if line.startswith("{")]
    added = {e["toxic"]: e for e in log if e["event"] == "toxic_added"}
    removed = {e["toxic"] for e in log if e["event"] == "toxic_removed"}
    for kind, _params, toxic_type, stream, attributes in CASES:
        toxic = added[f"faultlab-{kind}"]
        assert (toxic["type"], toxic["stream"]) == (toxic_type, stream), kind
        assert toxic["attributes"] == attributes, kind
        assert f"faultlab-{kind}" in removed, kind
    assert added["faultlab-connect_refuse"]["toxicity"] == 0.5
    result = json.loads((run_dir / "result.json").read_text())
    assert all(f["revert_ok"] for f in result["faults"])
    # The abort's 503s reach the workload: the seconds of its window count failures.
    abort = next(f for f in result["faults"] if f["name"] == "http_abort")
    overlapping = [e for e in events if e["event"] == "second"
                   and abort["injected_at"] - 1 < e["second"] < abort["reverted_at"]]
    assert sum(e["failed"] for e in overlapping) > 0
