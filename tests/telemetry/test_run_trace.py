"""Every run's trace, as a real OTLP/HTTP receiver decodes it: real `faultlab run`
subprocesses (a web server, the run's proxy server, HTTP load, one fault), the collector
absent, or no OTEL_* at all."""

from __future__ import annotations

import asyncio
import itertools
import json
import secrets
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from faultlab.ports import free_ports

from .conftest import ABORTED, Receiver, Span, otel_env, run_cli, write_experiment


def by_parent(receiver: Receiver, parent: Span) -> dict[str, Span]:
    return {s.name: s for s in receiver.children(parent)}


@pytest.mark.timeout(180)
async def test_a_run_with_one_fault_is_a_tree_under_the_ci_parent(
        tmp_path: Path, receiver: Receiver) -> None:
    ci_trace, ci_span = secrets.token_hex(16), secrets.token_hex(8)
    env = otel_env(receiver.url, OTEL_SERVICE_NAME="chaos-ci",
                   OTEL_RESOURCE_ATTRIBUTES="deployment.environment=test,team=sre",
                   TRACEPARENT=f"00-{ci_trace}-{ci_span}-01")
    run_dir = tmp_path / "run"
    code, out, err = await run_cli(write_experiment(tmp_path), run_dir, env)
    assert code == 0, out + err
    assert "warning" not in err
    assert set(receiver.content_types) == {"application/x-protobuf"}
    run = receiver.one("faultlab.run traced")
    assert (run.trace_id, run.parent_span_id) == (ci_trace, ci_span)
    ours = [s for s in receiver.spans if not s.name.startswith("faultlab.inject ")]
    assert {s.trace_id for s in ours} == {ci_trace}
    # the run's proxy server (it inherits the run's environment) joined the load's traces:
    # each request sent while the latency toxic was in force, under its own caller's span
    delayed = receiver.named("faultlab.inject latency")
    assert delayed and all(s.attributes["faultlab.toxic.kind"] == "latency"
                           and s.attributes["faultlab.proxy.name"] == "web-link"
                           and s.trace_id != ci_trace and s.parent_span_id for s in delayed)
    assert {s.resource["service.name"] for s in delayed} == {"chaos-ci-proxy"}  # its own
    assert run.resource["service.name"] == "chaos-ci"
    assert run.resource["deployment.environment"] == "test"
    assert run.resource["team"] == "sre"
    assert run.attributes["faultlab.experiment.name"] == "traced"
    assert run.attributes["faultlab.run.dir"] == str(run_dir.resolve())
    assert run.attributes["faultlab.run.verdict"] == "held"
    assert run.attributes["faultlab.run.exit_code"] == 0
    journal = [json.loads(line) for line in (run_dir / "journal.jsonl").read_text().splitlines()]
    assert run.attributes["faultlab.run.seed"] == journal[0]["seed"]
    assert not run.error
    top = by_parent(receiver, run)
    assert set(top) == {"faultlab.setup", "faultlab.phase before", "faultlab.phase faults",
                        "faultlab.phase after", "faultlab.teardown"}
    setup = by_parent(receiver, top["faultlab.setup"])
    assert set(setup) == {"faultlab.proxy_server", "faultlab.service.start web"}
    phases = [top[f"faultlab.phase {p}"] for p in ("before", "faults", "after")]
    assert all(a.end_ns == b.start_ns for a, b in itertools.pairwise(phases))
    assert run.start_ns <= phases[0].start_ns and phases[-1].end_ns <= run.end_ns
    before = by_parent(receiver, phases[0])
    assert before["faultlab.slo before: served"].attributes["faultlab.slo.held"] is True
    during = by_parent(receiver, phases[1])
    assert during["faultlab.slo during: served"].attributes["faultlab.slo.objective"]
    fault = during["faultlab.fault slow-web"]
    assert fault.attributes["faultlab.fault.kind"] == "latency"
    assert fault.attributes["faultlab.fault.target"] == "web-link"
    assert fault.attributes["faultlab.fault.param.delay"] == "5ms"
    assert fault.attributes["faultlab.fault.planned_duration_s"] == 1.0
    assert not fault.error
    steps = by_parent(receiver, fault)
    inject = steps["faultlab.fault.inject slow-web"]
    revert = steps["faultlab.fault.revert slow-web"]
    assert fault.start_ns == inject.start_ns <= inject.end_ns <= revert.start_ns
    assert revert.end_ns == fault.end_ns
    # the fault was in force for its planned second, between the two
    assert revert.start_ns - inject.end_ns >= 999_000_000  # journal times are in µs
    assert not inject.error and not revert.error


@pytest.mark.timeout(180)
async def test_an_aborted_run_is_exported_with_an_error_status(
        tmp_path: Path, receiver: Receiver) -> None:
    code, out, err = await run_cli(write_experiment(tmp_path, ABORTED), tmp_path / "run",
                                   otel_env(receiver.url))
    assert code == 3, out + err
    run = receiver.one("faultlab.run traced")
    assert run.error and run.attributes["faultlab.run.verdict"] == "aborted"
    assert run.status_message.startswith("aborted: ")
    assert "abort" in run.events
    assert run.resource["service.name"] == "faultlab"  # OTEL_SERVICE_NAME unset
    fault = receiver.one("faultlab.fault web-down")
    assert fault.attributes["faultlab.fault.kind"] == "down"
    revert = receiver.one("faultlab.fault.revert web-down")
    teardown = receiver.one("faultlab.teardown")
    # reverted by the tear-down, long before its planned 20 s were up
    assert teardown.start_ns <= revert.start_ns <= revert.end_ns <= teardown.end_ns
    assert not revert.error and not teardown.error


@pytest.mark.timeout(180)
async def test_a_collector_that_is_not_there_costs_one_warning(tmp_path: Path) -> None:
    (dead,) = free_ports(1)  # nothing listens there
    code, out, err = await run_cli(write_experiment(tmp_path), tmp_path / "run",
                                   otel_env(f"http://127.0.0.1:{dead}"))
    assert code == 0, out + err
    warnings = [line for line in err.splitlines() if "warning" in line]
    assert len(warnings) == 1, err
    assert warnings[0].startswith("faultlab: warning: the run's trace was not exported to "
                                  f"http://127.0.0.1:{dead}/v1/traces: connection refused")
    assert "hint:" in warnings[0]
    assert (tmp_path / "run" / "result.json").exists()


# The API in a process of its own, so that what it imported can be listed.
_UNSET = textwrap.dedent("""
    import sys
    from pathlib import Path
    import faultlab
    result = faultlab.run_experiment(Path(sys.argv[1]), run_dir=Path(sys.argv[2]),
                                     report=False)
    print(result.status.value, sorted(m for m in sys.modules if m.startswith("opentelemetry")))
""")


@pytest.mark.timeout(180)
async def test_without_an_endpoint_nothing_is_sent_nor_imported(
        tmp_path: Path, receiver: Receiver) -> None:
    # every OTEL_* but an endpoint: still nothing to do
    env = otel_env(None, OTEL_SERVICE_NAME="x", OTEL_EXPORTER_OTLP_HEADERS="a=b",
                   TRACEPARENT=f"00-{secrets.token_hex(16)}-{secrets.token_hex(8)}-01")
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-c", _UNSET, str(write_experiment(tmp_path)), str(tmp_path / "run"),
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    out, err = await asyncio.wait_for(proc.communicate(), 150)
    assert proc.returncode == 0, err.decode()
    assert out.decode().strip() == "held []"
    assert "warning" not in err.decode()
    assert receiver.posts == 0
