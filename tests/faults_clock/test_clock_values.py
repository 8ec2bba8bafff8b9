"""Clock fault values: what the file format refuses (one located line with a hint), what a
dry run shows, and the control-file spelling of offsets (exact in libfaketime's arithmetic,
or refused)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from faultlab.experiment import ExperimentError, load_experiment_text
from faultlab.faketime import FaketimeError, _as_libfaketime_reads, offset_text, service_env

BASE = """\
name: t
system: {{services: {{s: {{command: 'true'}}}}}}
targets: {{svc: {{process: {{service: s}}}}, other: {{process: {{name: sshd}}}}}}
faults:
  - {fault}
"""


def problems(fault: str) -> list[str]:
    with pytest.raises(ExperimentError) as info:
        load_experiment_text(BASE.format(fault=fault), "t.yaml", {})
    rendered = [str(p) for p in info.value.problems]
    assert all(len(r.splitlines()) == 1 and r.startswith("t.yaml:5:") for r in rendered)
    return rendered


@pytest.mark.parametrize(("fault", "says"), [
    ("{kind: clock_skew, target: svc, offset: '0s', duration: 1s}",
     "faults[0].offset: a clock offset of 0 changes no clock (hint: write e.g. -30s"),
    ("{kind: clock_skew, target: svc, offset: '-30', duration: 1s}",
     "faults[0].offset: '-30' is not a duration (hint:"),
    ("{kind: clock_skew, target: svc, offset: '+0.1us', duration: 1s}",
     "finer than a microsecond (hint: write it in whole microseconds"),
    ("{kind: clock_bump, target: svc, delta: '+8000h0.000001s', duration: 1s}",
     "cannot be given to libfaketime exactly"),
    ("{kind: clock_strobe, target: svc, delta: '+1h', period: 500ms, duration: 5s}",
     "faults[0].period: a strobe period of 500ms is below 1s"),
])
def test_bad_values_are_one_located_line_with_a_hint(fault: str, says: str) -> None:
    found = problems(fault)
    assert len(found) == 1 and says in found[0], found
    assert "(hint: " in found[0]


def test_offsets_dump_with_their_sign_and_reload_equal() -> None:
    text = BASE.format(fault="{kind: clock_skew, target: svc, offset: '-1m30s', duration: 2s}")
    spec = load_experiment_text(text, "t.yaml", {}).experiment.faults[0]
    assert spec.params() == {"offset": "-1m30s"}


@given(st.integers(-366 * 86400 * 10**6, 366 * 86400 * 10**6).filter(bool))
def test_an_offset_is_written_exactly_or_refused(micros: int) -> None:
    seconds = micros / 1e6
    try:
        text = offset_text(seconds)
    except FaketimeError:
        return
    assert _as_libfaketime_reads(text) == micros * 1000
    assert not any(c in text for c in "mhdy")  # libfaketime's multiplier letters


def test_common_offsets_are_plain() -> None:
    assert [offset_text(v) for v in (-30, 120, -2.5, 0.001, 3600)] == [
        "-30", "+120", "-2.5", "+0.001", "+3600"]


def test_the_service_env_keeps_its_own_preload(tmp_path: Path) -> None:
    env = service_env(tmp_path / "c.faketime", "/opt/mine.so")
    assert env["LD_PRELOAD"].endswith("libfaketimeMT.so.1:/opt/mine.so")
    assert env["FAKETIME_DONT_FAKE_MONOTONIC"] == "1"
    assert env["FAKETIME_TIMESTAMP_FILE"] == str(tmp_path / "c.faketime")


def test_dry_run_shows_the_clock_fault_and_refuses_a_running_process(lab: Any) -> None:
    exp = lab.experiment("  - {name: clock, target: svc, kind: clock_skew, offset: '-30s', "
                         "duration: 5s}")
    result = lab.faultlab("run", str(exp), "--dry-run")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "clock (clock_skew on svc" in result.stdout
    assert "the clock of service 'svc' (started under libfaketime), offset -30" in result.stdout
    exp.write_text(exp.read_text().replace("process: {service: svc}",
                                           "process: {name: definitely-not-running}"))
    bad = lab.faultlab("run", str(exp), "--dry-run")
    assert bad.returncode != 0
    lines = [ln for ln in (bad.stdout + bad.stderr).splitlines() if "faults[0]" in ln]
    assert len(lines) == 1 and "needs a process faultlab started" in lines[0], bad.stdout
    assert "target a process with `service:`" in lines[0]
    assert not lab.run_dir.exists()


def test_a_clock_fault_on_a_running_process_is_refused_before_anything_runs(lab: Any) -> None:
    exp = lab.experiment("  - {name: clock, target: other, kind: clock_skew, offset: '+5s', "
                         "duration: 1s}")
    exp.write_text(exp.read_text().replace(
        "targets:\n", "targets:\n  other:\n    process: {pid: 1}\n"))
    result = lab.faultlab("run", str(exp), "--run-dir", str(lab.run_dir), "--quiet")
    # refused when the file is read: nothing runs
    assert result.returncode == 2, result.stdout + result.stderr
    assert "clock_skew needs a process faultlab started" in result.stdout + result.stderr
    assert lab.alive(lab.services()) == []


