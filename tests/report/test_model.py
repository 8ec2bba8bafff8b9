"""Reading run directories: the journal gives time series and events, result.json verdicts."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from faultlab.report import ReportError, load_run
from faultlab.report.model import MomentKind
from faultlab.report.synthetic import SyntheticFault, write_synthetic_run
from faultlab.run.verdict import Status


def test_load_run_reads_seconds_faults_and_verdict(naive_run: Path) -> None:
    run = load_run(naive_run)
    doc = json.loads((naive_run / "result.json").read_text())
    assert run.status is Status(doc["status"]) is Status.VIOLATED
    assert [c.name for c in run.clauses] == [c["name"] for c in doc["clauses"]]
    assert [s.index for s in run.seconds] == list(range(30))
    assert run.seconds[12].failed > 0 and run.seconds[2].failed == 0
    (fault,) = run.faults
    assert (fault.name, fault.injected_at, fault.reverted_at) == ("slow-data", 10.0, 18.0)
    assert fault.intent_at == 10.0 and fault.lease == 18.0
    assert [p for p, _ in run.phases] == ["before", "faults", "after"]
    kinds = [m.kind for m in run.moments]
    assert MomentKind.INJECTED in kinds and MomentKind.GENERATOR_LAG in kinds
    assert [s.name for s in run.slos] == ["fast-pages", "pages-served"]
    assert run.slos[0].latency == {"p99": 0.3} and run.slos[1].success_ratio == 0.99
    assert run.seed == 42 and run.command[-1] == "variant=naive"


def test_a_crashed_run_without_result_still_loads(tmp_path: Path) -> None:
    run_dir = write_synthetic_run(tmp_path / "r", faults=(
        SyntheticFault("stuck", "down", 5, 9, revert_ok=False),))
    (run_dir / "result.json").unlink()
    run = load_run(run_dir)
    assert run.status is Status.REVERT_FAILED  # from the journal's verdict event
    assert run.clauses == []
    (fault,) = run.faults
    assert fault.injected_at == 5.0 and fault.reverted_at is None and fault.error


def test_a_run_without_any_verdict_has_unknown_status(tmp_path: Path) -> None:
    run_dir = write_synthetic_run(tmp_path / "r")
    (run_dir / "result.json").unlink()
    lines = (run_dir / "journal.jsonl").read_text().splitlines()
    kept = [ln for ln in lines if '"event":"verdict"' not in ln]
    (run_dir / "journal.jsonl").write_text("\n".join(kept) + '\n{"event":"sec')  # torn
    run = load_run(run_dir)
    assert run.status is None and run.status_text == "unknown"
    assert len(run.seconds) == 30


def test_not_a_run_directory_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ReportError, match=r"no journal\.jsonl"):
        load_run(tmp_path)


def test_corrupt_result_is_a_clear_error(naive_run: Path) -> None:
    (naive_run / "result.json").write_text("{not json")
    with pytest.raises(ReportError, match=r"result\.json: not readable JSON"):
        load_run(naive_run)


def test_the_last_second_cut_short_by_the_end_of_the_run_is_partial(naive_run: Path) -> None:
    path = naive_run / "journal.jsonl"
    records = [json.loads(ln) for ln in path.read_text().splitlines()]
    last = max((r for r in records if r["event"] == "second"), key=lambda r: r["second"])
    last["t"] = last["second"] + 0.4
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    run = load_run(naive_run)
    assert run.seconds[-1].partial and not run.seconds[-2].partial
