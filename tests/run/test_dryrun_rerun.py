"""``--dry-run`` resolves and touches nothing; the journaled experiment reloads equal, so
``--from RUN_DIR`` re-runs a past run exactly (same experiment, same seed, same plan)."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from faultlab.demo.suite import experiment_files
from faultlab.experiment import load_experiment, load_experiment_text
from faultlab.experiment.model import experiment_model
from faultlab.ports import free_ports
from faultlab.run.rerun import escape_spec


def _faultlab(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "faultlab", *args], capture_output=True,
                          text=True, timeout=120, check=False)


def _demo_vars() -> dict[str, str]:
    ports = free_ports(5)
    names = ("storefront_port", "inventory_port", "inventory_proxy_port", "data_port",
             "data_proxy_port")
    return {"variant": "naive", **{n: str(p) for n, p in zip(names, ports, strict=True)}}


@pytest.mark.parametrize("name", sorted(experiment_files()))
def test_every_shipped_experiment_dumps_and_loads_equal(name: str) -> None:
    loaded = load_experiment(experiment_files()[name], _demo_vars())
    dumped = escape_spec(loaded.experiment.model_dump(mode="json", by_alias=True))
    again = load_experiment_text(json.dumps(dumped), "dumped.json")
    assert again.experiment == loaded.experiment
    assert experiment_model().model_validate(dumped) == loaded.experiment


def test_units_and_literal_dollars_survive_the_round_trip() -> None:
    text = """
version: 1
name: units
description: "costs $${price} and 10%"
faults:
  - {name: c, kind: command, inject: "echo $${HOME}", duration: 1m30s, start: 250ms}
  - {name: d, kind: command, inject: "true", duration: 0.1s, start: 123456us}
"""
    loaded = load_experiment_text(text, "u.yaml")
    dumped = escape_spec(loaded.experiment.model_dump(mode="json", by_alias=True))
    assert dumped["faults"][0]["duration"] == "1m30s" and dumped["faults"][0]["start"] == "250ms"
    again = load_experiment_text(json.dumps(dumped), "dumped.json")
    assert again.experiment == loaded.experiment
    assert again.experiment.description == "costs ${price} and 10%"


EXPERIMENT = """
version: 1
name: dry
system:
  services:
    svc: {{command: ["{python}", -c, "pass"], ready: {{tcp: "127.0.0.1:{svc}"}}}}
targets:
  link: {{proxy: {{listen: "127.0.0.1:{listen}", upstream: "127.0.0.1:{svc}"}}}}
  byname: {{process: {{name: {procname}}}}}
faults:
  - {{name: slow, kind: latency, target: link, delay: 10ms, duration: 2s}}
  - {{name: hup, kind: kill, target: byname, signal: SIGCONT, start: 3s}}
  - {{name: cmd, kind: command, inject: "{inject}", revert: "true", duration: 1s}}
"""


def _write(tmp_path: Path, listen: int, procname: str = "sleep", inject: str = "true") -> Path:
    svc = free_ports(1)[0]
    exp = tmp_path / "dry.yaml"
    exp.write_text(EXPERIMENT.format(python=sys.executable, svc=svc, listen=listen,
                                     procname=procname, inject=inject))
    return exp


def test_dry_run_resolves_prints_the_timeline_and_touches_nothing(tmp_path: Path) -> None:
    sleeper = subprocess.Popen(["sleep", "60"])
    try:
        exp = _write(tmp_path, free_ports(1)[0])
        out = _faultlab("run", "--dry-run", str(exp), "--runs-dir", str(tmp_path / "runs"))
        assert out.returncode == 0, out.stdout + out.stderr
        assert "fault timeline" in out.stdout and "slow (latency on link; lease 12s)" in out.stdout
        assert f"fault hup: byname: {sleeper.pid}" in out.stdout or "fault hup:" in out.stdout
        assert not (tmp_path / "runs").exists()
        assert sleeper.poll() is None
    finally:
        sleeper.kill()
        sleeper.wait()


@pytest.mark.parametrize("problem", ["port", "process", "command"])
def test_dry_run_reports_what_does_not_resolve_at_its_line(tmp_path: Path,
                                                           problem: str) -> None:
    holder = socket.socket()
    holder.bind(("127.0.0.1", 0))
    holder.listen()
    sleeper = subprocess.Popen(["sleep", "60"])
    try:
        listen = holder.getsockname()[1] if problem == "port" else free_ports(1)[0]
        exp = _write(tmp_path, listen,
                     procname="no-such-process-xyz" if problem == "process" else "sleep",
                     inject="no-such-command-xyz" if problem == "command" else "true")
        out = _faultlab("run", "--dry-run", str(exp))
        assert out.returncode == 2, out.stdout + out.stderr
        expected = {"port": (":8:", "cannot listen on"), "process": (":12:", "no running process"),
                    "command": (":13:", "not on the PATH")}[problem]
        lines = [line for line in out.stdout.splitlines() if line.startswith(str(exp))]
        assert any(expected[0] in line and expected[1] in line for line in lines), out.stdout
        assert len(lines) == 1, out.stdout  # only the planted problem
    finally:
        holder.close()
        sleeper.kill()
        sleeper.wait()


def test_from_run_dir_reruns_the_same_experiment_and_plan(tmp_path: Path) -> None:
    exp = tmp_path / "nemesis.yaml"
    exp.write_text("""
version: 1
name: nemesis
faults:
  - {name: a, kind: command, inject: "true", revert: "true"}
  - {name: b, kind: command, inject: "true", revert: "true"}
schedule:
  random: {faults: [a, b], interval: 100ms..300ms, hold: 50ms..150ms, length: 2s}
""")
    first = _faultlab("run", str(exp), "--run-dir", str(tmp_path / "one"), "-q")
    assert first.returncode == 0, first.stdout + first.stderr
    second = _faultlab("run", "--from", str(tmp_path / "one"), "--run-dir",
                       str(tmp_path / "two"), "-q")
    assert second.returncode == 0, second.stdout + second.stderr

    def started(run: str) -> dict[str, object]:
        lines = (tmp_path / run / "journal.jsonl").read_text().splitlines()
        events = [json.loads(line) for line in lines]
        return {e["event"]: e for e in events if e["event"] in ("run_started", "plan")}

    one, two = started("one"), started("two")
    assert one["plan"]["faults"] == two["plan"]["faults"]  # type: ignore[index]
    assert one["run_started"]["seed"] == two["run_started"]["seed"]  # type: ignore[index]
    assert one["run_started"]["spec"] == two["run_started"]["spec"]  # type: ignore[index]


def test_from_a_directory_that_is_no_run_is_a_clear_error(tmp_path: Path) -> None:
    out = _faultlab("run", "--from", str(tmp_path))
    assert out.returncode == 2 and "Traceback" not in out.stderr
    assert "cannot read the journal" in out.stderr
