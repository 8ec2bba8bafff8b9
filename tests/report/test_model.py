"""Reading run directories: the journal gives time series and events, the run record
(result.json, read only through RunRecord.load) the verdicts."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from faultlab.record import RunRecord
from faultlab.report import ReportError, load_run
from faultlab.report.model import MomentKind
from faultlab.run.verdict import Status

from .conftest import HISTORY
from .story import run_story, story_text


def test_load_run_reads_seconds_faults_and_verdict(naive_run: Path) -> None:
    run = load_run(naive_run)
    record = RunRecord.load(naive_run / "result.json")
    assert run.record == record
    assert run.status is record.status is Status.VIOLATED
    assert run.clauses == record.clauses
    assert [c.name for c in run.clauses] == [
        "before: fast-pages", "before: pages-served", "during: fast-pages",
        "during: pages-served", "after: fast-pages", "after: pages-served"]
    assert [s.index for s in run.seconds] == list(range(len(run.seconds)))
    assert len(run.seconds) >= 24
    assert run.seconds[12].failed > 0 and run.seconds[2].failed == 0
    (fault,) = run.faults
    assert fault.name == "slow-data" and fault.kind == "story-outage"
    assert fault.injected_at == pytest.approx(10.1) and fault.reverted_at == pytest.approx(18.1)
    assert fault.intent_at is not None and fault.intent_at <= 10.1
    assert fault.lease == 18.0 and fault.revert_ok is True
    assert [p for p, _ in run.phases] == ["before", "faults", "after"]
    kinds = [m.kind for m in run.moments]
    assert MomentKind.INJECTED in kinds and MomentKind.GENERATOR_LAG in kinds
    assert any(r.startswith("warning: the load generator") for r in run.reasons)
    assert [s.name for s in run.slos] == ["fast-pages", "pages-served"]
    assert run.slos[0].latency == {"p99": 0.3} and run.slos[1].success_ratio == 0.99
    assert run.seed == 42 and run.command[-1] == "variant=naive"
    assert run.workload is not None and run.workload == record.workloads["shop"].totals
    assert run.generator is not None and run.generator.dropped > 0
    assert run.charted_workload == "shop"


def test_a_crashed_run_without_result_still_loads(hostile_run: Path) -> None:
    (hostile_run / "result.json").unlink()
    run = load_run(hostile_run)
    assert run.record is None
    assert run.status is Status.REVERT_FAILED  # from the journal's verdict event
    assert run.clauses == [] and run.workload is None
    stuck = next(f for f in run.faults if f.name == "stuck")
    assert stuck.injected_at is not None and stuck.reverted_at is None and stuck.error
    assert stuck.recovery_note == "no result.json: the run did not finish"
    assert run.seconds  # still charted, from the journal


def test_a_run_without_any_verdict_has_unknown_status(naive_run: Path) -> None:
    (naive_run / "result.json").unlink()
    lines = (naive_run / "journal.jsonl").read_text().splitlines()
    seconds = sum('"event":"second"' in ln for ln in lines)
    kept = [ln for ln in lines if '"event":"verdict"' not in ln]
    (naive_run / "journal.jsonl").write_text("\n".join(kept) + '\n{"event":"sec')  # torn
    run = load_run(naive_run)
    assert run.status is None and run.status_text == "unknown"
    assert len(run.seconds) == seconds


def test_not_a_run_directory_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ReportError, match=r"no journal\.jsonl"):
        load_run(tmp_path)


@pytest.mark.parametrize(("text", "message"), [
    ("{not json", r"result\.json:1:2: not JSON: .* \(hint: .*remove result\.json"),
    ("[1, 2]", r"not a faultlab run record: the file holds an array"),
    ('{"status": "held"}', r"not a faultlab run record: no record_version"),
])
def test_a_damaged_or_foreign_result_is_a_clear_error(naive_run: Path, text: str,
                                                      message: str) -> None:
    (naive_run / "result.json").write_text(text)
    with pytest.raises(ReportError, match=message) as e:
        load_run(naive_run)
    assert "\n" not in str(e.value)


def test_a_result_that_breaks_the_record_names_the_field(naive_run: Path) -> None:
    path = naive_run / "result.json"
    doc = json.loads(path.read_text())
    doc["clauses"][2]["held"] = "maybe"
    path.write_text(json.dumps(doc))
    with pytest.raises(ReportError, match=r"result\.json: clauses\[2\]\.held: .*boolean"):
        load_run(naive_run)


def test_the_last_second_cut_short_by_the_end_of_the_run_is_partial(naive_run: Path) -> None:
    path = naive_run / "journal.jsonl"
    records = [json.loads(ln) for ln in path.read_text().splitlines()]
    last = max((r for r in records if r["event"] == "second"), key=lambda r: r["second"])
    last["t"] = last["second"] + 0.4
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    run = load_run(naive_run)
    assert run.seconds[-1].partial and not run.seconds[-2].partial


def test_with_several_workloads_the_first_measured_one_is_charted(tmp_path: Path) -> None:
    extra = ("  api: {kind: story, rate: 10/s, broken: false}\n"
             + HISTORY % ("cas-register", 0, 0))
    run_dir, verdict = run_story(tmp_path / "two", story_text("two", extra_workloads=extra,
                                                              before="3s"))
    run = load_run(run_dir)
    assert run.record is not None and list(run.record.workloads) == ["shop", "api", "kv"]
    assert run.charted_workload == "shop"
    assert run.workload == run.record.workloads["shop"].totals
    assert run.history == run.record.workloads["kv"].history
    shop_seconds = [json.loads(ln) for ln in (run_dir / "journal.jsonl").read_text()
                    .splitlines() if '"workload":"shop"' in ln and '"event":"second"' in ln]
    assert [s.sent for s in run.seconds] == [e["sent"] for e in shop_seconds]
    assert {c.workload for c in run.clauses} == {"shop"}
    assert verdict.status is Status.VIOLATED
