"""Secrets never leak: a value read through ``${env:...}`` and planted in every field that
can hold one (URLs, headers, a service's arguments and environment, vars, a number, a
command fault) appears in no file of the run directory, nor on stdout/stderr; what cannot
be masked is refused with a located error."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from faultlab.ports import free_ports

from .conftest import faultlab

pytestmark = pytest.mark.slow

SECRET = "s3cr3t-Pa55word-7f2a"
NUMBER = "48213"  # a secret that YAML reads as a number
# The demo data service, after printing what faultlab passed it (its argv and environment).
SERVICE = ("import os, sys; print(sys.argv, os.environ['DB_URL'], flush=True); "
           "from faultlab.demo.services.__main__ import main; "
           "sys.argv = ['x', 'data', '--port', '{port}']; main()")


def _run(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(faultlab(*args), capture_output=True, text=True, timeout=180,
                          env={**os.environ, **env}, check=False)


def test_a_secret_planted_everywhere_reaches_no_output(tmp_path: Path) -> None:
    data, proxy = free_ports(2)
    exp = tmp_path / "secrets.yaml"
    exp.write_text(f"""
version: 1
name: planted
description: "token ${{env:FL_SECRET}} in the description"
vars: {{code: "${{env:FL_NUMBER}}", label: "x-${{env:FL_SECRET}}"}}
system:
  services:
    data:
      command: ["${{python}}", -c, "{SERVICE.format(port=data)}", "${{env:FL_SECRET}}"]
      env: {{DB_URL: "postgres://app:${{env:FL_SECRET}}@127.0.0.1/db", CODE: "${{code}}"}}
      ready: {{http: "http://127.0.0.1:{data}/health", timeout: 30s}}
targets:
  link: {{proxy: {{listen: "127.0.0.1:{proxy}", upstream: "127.0.0.1:{data}"}}}}
workload:
  http:
    url: "http://127.0.0.1:{proxy}/item/1?key=${{env:FL_SECRET}}&n=${{code}}"
    headers: {{Authorization: "Bearer ${{env:FL_SECRET}}", X-Label: "${{label}}"}}
    rate: 20/s
slos:
  - {{name: served, success_ratio: 50%, window: 1s}}
hypothesis:
  before: {{hold: [served], for: 1s}}
  after: {{recover_within: 2s}}
faults:
  - {{name: slow, kind: latency, target: link, delay: 10ms, duration: 1s}}
  - {{name: mark, kind: command, inject: [sh, -c, "echo ${{env:FL_SECRET}} > /dev/null"],
     revert: [sh, -c, "echo ${{env:FL_SECRET}} ${{code}}"], start: 1s, duration: 1s}}
""")
    run_dir = tmp_path / "run"
    env = {"FL_SECRET": SECRET, "FL_NUMBER": NUMBER}
    out = _run(["run", str(exp), "--run-dir", str(run_dir)], env)
    assert out.returncode in (0, 1), out.stdout + out.stderr
    assert SECRET not in out.stdout + out.stderr and NUMBER not in out.stdout + out.stderr
    files = [p for p in run_dir.rglob("*") if p.is_file()]
    assert {p.name for p in files} >= {"journal.jsonl", "result.json", "junit.xml",
                                       "report.html", "data.log", "proxy.log"}
    for path in files:
        text = path.read_bytes().decode("utf-8", "replace")
        assert SECRET not in text, f"{path.name} holds the secret"
        assert NUMBER not in text, f"{path.name} holds the numeric secret"
    assert "${env:FL_SECRET}" in (run_dir / "logs" / "data.log").read_text()


@pytest.mark.parametrize(("field", "hint"), [
    ("name: ${env:FL_SECRET}", "cannot come from ${env:...}"),
    ("name: ok\nvars: {a: \"${env:FL_SHORT}\"}", "at least 3"),
])
def test_what_cannot_be_masked_is_refused(tmp_path: Path, field: str, hint: str) -> None:
    exp = tmp_path / "bad.yaml"
    exp.write_text(f"version: 1\n{field}\n")
    out = _run(["validate", str(exp)], {"FL_SECRET": SECRET, "FL_SHORT": "ab"})
    assert out.returncode == 2
    assert hint in out.stderr and f"{exp}:" in out.stderr
    assert SECRET not in out.stdout + out.stderr
    assert "Traceback" not in out.stderr


def test_readiness_is_proven_for_the_process_faultlab_started(tmp_path: Path) -> None:
    """A squatter already holds the service's port: the service is refused, and no fault
    ever hits the squatter."""
    squatter = socket.socket()
    squatter.bind(("127.0.0.1", 0))
    squatter.listen()
    port = squatter.getsockname()[1]
    try:
        exp = tmp_path / "squat.yaml"
        exp.write_text(f"""
version: 1
name: squat
system:
  services:
    svc:
      command: ["{sys.executable}", -m, http.server, "{port}", --bind, 127.0.0.1]
      ready: {{tcp: "127.0.0.1:{port}", timeout: 10s}}
targets:
  svc: {{process: {{service: svc}}}}
faults:
  - {{name: k, kind: kill, target: svc}}
""")
        out = _run(["run", str(exp), "--run-dir", str(tmp_path / "run"), "-q"], {})
        assert out.returncode == 4
        assert "another process holds 127.0.0.1" in " ".join((out.stdout + out.stderr).split())
        assert "fault_injected" not in (tmp_path / "run" / "journal.jsonl").read_text()
    finally:
        squatter.close()
