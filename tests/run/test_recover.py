"""``faultlab recover`` against damaged journals, unverifiable identities and secrets.

Journals are written with faultlab's own Journal (as a run writes them), then damaged.
Processes are real (``sleep``), started by the test and always killed at its end.
"""

from __future__ import annotations

import asyncio
import os
import random
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from faultlab.clock import MonotonicClock
from faultlab.faults.undo import Undo
from faultlab.hosts import local_host
from faultlab.journal import JOURNAL_NAME, Event, Journal, Redactor
from faultlab.run.recover import recover
from faultlab.run.setup import MARKER_ENV


@pytest.fixture
def sleepers() -> Iterator[list[subprocess.Popen[bytes]]]:
    procs: list[subprocess.Popen[bytes]] = []
    yield procs
    for p in procs:
        if p.poll() is None:
            p.kill()
        p.wait()


def _sleeper(procs: list[subprocess.Popen[bytes]], env: dict[str, str] | None = None
             ) -> subprocess.Popen[bytes]:
    p = subprocess.Popen(["sleep", "300"], env={**os.environ, **(env or {})},
                         start_new_session=True)
    procs.append(p)
    return p


def _journal(run_dir: Path, redactor: Redactor | None = None) -> Journal:
    run_dir.mkdir(parents=True, exist_ok=True)
    clock = MonotonicClock()
    return Journal(run_dir / JOURNAL_NAME, clock, clock.now(), redactor or Redactor())


def _command_intent(journal: Journal, name: str, argv: list[str]) -> None:
    undo = Undo("run_command", {"argv": argv, "timeout": 10.0, "cwd": None, "keeper": None},
                host=local_host().ref())
    journal.write(Event.FAULT_INTENT, durable=True, fault=name, kind="command",
                  targets=["local"], params={}, lease=60, undo=undo.to_json())


def test_recover_reverts_a_journaled_command(tmp_path: Path) -> None:
    flag = tmp_path / "flag"
    flag.write_text("on")
    j = _journal(tmp_path / "run")
    _command_intent(j, "mark", ["rm", "-f", str(flag)])
    j.close()
    report = asyncio.run(recover(tmp_path / "run"))
    assert report.failed == [] and not flag.exists()
    again = asyncio.run(recover(tmp_path / "run"))
    assert again.already_clean


def test_a_pid_without_start_time_is_never_signalled(tmp_path: Path,
                                                     sleepers: list[subprocess.Popen[bytes]]
                                                     ) -> None:
    victim = _sleeper(sleepers)
    j = _journal(tmp_path / "run")
    j.write(Event.SERVICE_STARTED, service="svc", pid=victim.pid)  # no start time
    j.close()
    report = asyncio.run(recover(tmp_path / "run"))
    assert victim.poll() is None
    assert any("cannot be verified" in s for s in report.skipped)


def test_a_reused_pid_is_never_signalled(tmp_path: Path,
                                         sleepers: list[subprocess.Popen[bytes]]) -> None:
    victim = _sleeper(sleepers)
    ident = local_host().identify(victim.pid)
    assert ident is not None
    j = _journal(tmp_path / "run")
    j.write(Event.SERVICE_STARTED, service="svc", pid=victim.pid, started=ident.started - 1)
    j.close()
    report = asyncio.run(recover(tmp_path / "run"))
    assert victim.poll() is None and report.stopped == []


def test_a_process_spawned_before_its_pid_was_journaled_is_found_by_marker(
        tmp_path: Path, sleepers: list[subprocess.Popen[bytes]]) -> None:
    marker = f"test-{random.randrange(1 << 40):x}"
    orphan = _sleeper(sleepers, {MARKER_ENV: marker})
    bystander = _sleeper(sleepers, {MARKER_ENV: marker + "-other"})
    j = _journal(tmp_path / "run")
    j.write(Event.PROXY_SERVER_STARTING, durable=True, marker=marker)
    j.close()
    report = asyncio.run(recover(tmp_path / "run"))
    assert orphan.wait(30) is not None
    assert bystander.poll() is None
    assert any("found by its marker" in s for s in report.stopped)


def test_a_secret_from_the_environment_is_journaled_as_its_reference_and_resolved(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    flag = tmp_path / "secret-named-flag"
    flag.write_text("on")
    secret = str(flag)
    monkeypatch.setenv("FAULTLAB_TEST_TARGET", secret)
    j = _journal(tmp_path / "run", Redactor({secret: "FAULTLAB_TEST_TARGET"}))
    _command_intent(j, "mark", ["rm", "-f", secret])
    j.close()
    text = (tmp_path / "run" / JOURNAL_NAME).read_text()
    assert secret not in text and "${env:FAULTLAB_TEST_TARGET}" in text
    monkeypatch.delenv("FAULTLAB_TEST_TARGET")
    missing = asyncio.run(recover(tmp_path / "run"))
    assert flag.exists() and "set it as for the run" in missing.failed[0]
    monkeypatch.setenv("FAULTLAB_TEST_TARGET", secret)
    done = asyncio.run(recover(tmp_path / "run"))
    assert done.failed == [] and not flag.exists()


def _valid_journal(run_dir: Path, flag: Path) -> bytes:
    j = _journal(run_dir)
    j.write(Event.RUN_STARTED, durable=True, experiment="x", seed=1, marker="m" * 16)
    _command_intent(j, "a", ["rm", "-f", str(flag)])
    j.write(Event.FAULT_INJECTED, fault="a")
    _command_intent(j, "b", ["true"])
    j.write(Event.FAULT_REVERTED, durable=True, fault="b")
    j.write(Event.SERVICE_STARTED, durable=True, service="s", pid=4_194_000, started=1)
    j.close()
    return (run_dir / JOURNAL_NAME).read_bytes()


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(cut=st.integers(min_value=0), noise=st.binary(max_size=200),
       where=st.integers(min_value=0), swap=st.sampled_from(
           [b"", b'"undo":{', b'"fault":', b'"pid":', b'"params":', b'"host":']),
       into=st.sampled_from([b"", b'"undo":7,"x":{', b'"fault":[1],"y":', b'"pid":"x","z":',
                             b'"params":"s","w":', b'"host":{"kind":"nope"},"v":']))
def test_damaged_journals_never_raise(tmp_path: Path, cut: int, noise: bytes, where: int,
                                      swap: bytes, into: bytes) -> None:
    run_dir = tmp_path / f"run-{random.randrange(1 << 40):x}"
    data = _valid_journal(run_dir, tmp_path / "flag")
    data = data[: cut % (len(data) + 1)]
    at = where % (len(data) + 1)
    data = data[:at] + noise + data[at:]
    if swap:
        data = data.replace(swap, into, 1)
    (run_dir / JOURNAL_NAME).write_bytes(data)
    report = asyncio.run(recover(run_dir))
    for line in report.failed + report.skipped:
        assert "\n" not in line and "Traceback" not in line


def test_recover_cli_on_a_missing_or_empty_run_dir(tmp_path: Path) -> None:
    import sys

    empty = tmp_path / "empty"
    empty.mkdir()
    out = subprocess.run([sys.executable, "-m", "faultlab", "recover", str(empty)],
                         capture_output=True, text=True, timeout=60, check=False)
    assert out.returncode == 2 and "Traceback" not in out.stderr
    assert "journal.jsonl does not exist" in out.stderr


def test_recover_refuses_while_the_run_itself_still_runs(tmp_path: Path) -> None:
    """The run reverts everything itself; a recover meanwhile would kill its services."""
    from faultlab.run.recover import RunStillGoing

    me = local_host().identify(os.getpid())
    assert me is not None
    j = _journal(tmp_path / "run")
    j.write(Event.RUN_STARTED, durable=True, experiment="x", seed=1, pid=me.pid,
            started=me.started, marker="m" * 16)
    _command_intent(j, "mark", ["true"])
    j.close()
    with pytest.raises(RunStillGoing, match="still going"):
        asyncio.run(recover(tmp_path / "run"))
    j = _journal(tmp_path / "gone")
    j.write(Event.RUN_STARTED, durable=True, experiment="x", seed=1, pid=me.pid,
            started=me.started - 1, marker="m" * 16)  # a pid reused by another process
    j.close()
    assert asyncio.run(recover(tmp_path / "gone")).already_clean
