"""The history checks in the report: findings, the table, the timeline around a
linearizability violation, anomalies; from real checker evidence on recorded histories."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from faultlab.history import Op, Outcome
from faultlab.record import CheckVerdict, StuckOp, Violation
from faultlab.report import build_report, load_run, write_report
from faultlab.report.history_checks import CheckDetailsSection, CheckFindingsSection
from faultlab.report.optimeline import MAX_OPS, TAIL, op_label, select_window
from faultlab.report.sections import ReportContext


def _result(run_dir: Path) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads((run_dir / "result.json").read_text())
    return doc


def _op(index: int, process: int, f: str, value: Any, start: float, end: float | None,
        outcome: Outcome = Outcome.OK, key: str | None = "k") -> Op:
    return Op(index, process, f, value, int(start * 1e9),
              None if end is None else int(end * 1e9), outcome, key)


def test_labels_read_like_the_operations() -> None:
    assert op_label(_op(0, 0, "write", 3, 0, 1)) == "write 3"
    assert op_label(_op(0, 0, "read", 7, 0, 1)) == "read → 7"
    assert op_label(_op(0, 0, "cas", (1, 2), 0, 1)) == "cas 1→2"
    assert op_label(_op(0, 0, "read", None, 0, None, Outcome.INFO)) == "read → ?"
    assert op_label(_op(0, 0, "read", (1, 2, 3), 0, 1)) == "read → [1, 2, 3]"
    assert op_label(_op(0, 0, "add", "x" * 80, 0, 1)).endswith("…")


def test_the_window_keeps_the_evidence_and_caps_the_crowd() -> None:
    # 200 concurrent writes on the key; prefix of 30; the violation at the end
    ops = {i: _op(i, i % 50, "write", i, i * 0.001, i * 0.001 + 0.05) for i in range(200)}
    ops[200] = _op(200, 99, "read", 3, 0.19, 0.2)
    ops[201] = _op(201, 98, "write", 9, 0.05, None, Outcome.INFO)  # open: overlaps all
    ops[202] = _op(202, 97, "write", 8, 0.15, 0.16, key="other")  # another partition
    v = Violation(partition="'k'", prefix_length=150, prefix=list(range(150, 180)),
                  states=[str(i) for i in range(150, 180)], state="179", must_complete=200,
                  stuck=[StuckOp(op=200, reason="needs 3"), StuckOp(op=190, reason="why not")])
    win = select_window(v, ops)
    assert win is not None
    shown = {op.index for op in win.ops}
    assert len(shown) == MAX_OPS < win.overlapping
    assert {200, 190} | set(range(180 - TAIL, 180)) <= shown
    assert 202 not in shown
    assert win.roles[200] == "must" and win.roles[190] == "stuck" and win.roles[175] == "prefix"
    assert select_window(v, {}) is None


def test_checks_are_read_from_result_json_or_else_the_journal(register_run: Path) -> None:
    doc = _result(register_run)
    run = load_run(register_run)
    assert [(c.kind, c.verdict.value, c.ops_checked) for c in run.checks] == [
        (c["kind"], c["verdict"], c["ops_checked"]) for c in doc["checks"]]
    check = run.checks[0]
    assert check.verdict is CheckVerdict.INVALID and check.evidence.violation is not None
    assert check.evidence.violation.must_complete == doc["checks"][0]["evidence"][
        "violation"]["must_complete"]
    assert run.history is not None and run.history.invoked == doc["history"]["invoked"]
    assert (run.history.dropped, run.history.retired_processes) == (3, 1)
    (register_run / "result.json").unlink()  # a run killed after its checks
    crashed = load_run(register_run)
    # the journal rounds the elapsed time to microseconds, and names the workload always
    same = {"elapsed_s": None, "workload": None}
    assert [c.model_copy(update=same) for c in crashed.checks] == [
        c.model_copy(update=same) for c in run.checks]


def test_findings_and_details_show_every_check(set_run: Path) -> None:
    doc = _result(set_run)
    html, mdown = build_report([load_run(set_run)])
    failed = [c for c in doc["checks"] if not c["passed"]]
    assert len(failed) == 2  # linearizable and set, both from the stale read
    findings = html[html.index('data-section="check-findings"'):
                    html.index('data-section="charts"')]
    assert findings.count("<li") == 2
    for c in failed:
        assert f"<strong>check {c['kind']}: invalid</strong>" in findings
        assert f"- **check {c['kind']}: invalid**" in mdown
    assert html.index('data-section="check-findings"') < html.index('data-section="charts"')
    assert re.findall(r'data-check="(\w+)" data-verdict="(\w+)"><span', html) == [
        (c["kind"], c["verdict"]) for c in doc["checks"]]
    stale = next(a for c in failed for a in c["evidence"].get("anomalies", [])
                 if a["kind"] == "stale-read")
    assert '<div class="anomaly" data-kind="stale-read">' in html
    for index in stale["ops"]:
        assert f"<code>#{index} p" in html  # listed with its process and times
    assert "## History checks" in mdown and "```text\nlinearizable[set]: invalid" in mdown


def test_the_timeline_marks_the_operation_that_had_to_complete(register_run: Path) -> None:
    evidence = _result(register_run)["checks"][0]["evidence"]["violation"]
    html, _ = build_report([load_run(register_run)])
    svg = re.search(r'<svg class="op-timeline".*?</svg>', html, re.S)
    assert svg is not None
    must = re.findall(r'<g class="op op-must" data-op="(\d+)"', svg.group(0))
    assert must == [str(evidence["must_complete"])]
    stuck = {s["op"] for s in evidence["stuck"]} - {evidence["must_complete"]}
    assert {int(i) for i in re.findall(r'class="op op-stuck" data-op="(\d+)"', svg.group(0))
            } == stuck
    assert "stroke-dasharray=\"5 3\"" in svg.group(0)  # the timed-out write, open-ended
    assert f"state after the prefix: {evidence['state']}" in svg.group(0)
    assert len(re.findall(r'<g class="op ', svg.group(0))) <= MAX_OPS


def test_a_run_without_checks_renders_as_before(naive_run: Path) -> None:
    run = load_run(naive_run)
    assert run.checks == [] and run.history is None
    ctx = ReportContext([run], ["naive"])
    assert CheckFindingsSection().render(ctx) is None
    assert CheckDetailsSection().render(ctx) is None
    html, mdown = build_report([run])
    assert "check-findings" not in html and "history-checks" not in html
    assert "History checks" not in mdown


def test_a_missing_history_file_still_shows_the_evidence(register_run: Path) -> None:
    (register_run / "history.jsonl").unlink()
    html, _ = build_report([load_run(register_run)])
    assert "history.jsonl is not in the run directory" in html
    assert "op-timeline" not in html and "had to complete first:" in html


def _make_hostile(run_dir: Path) -> None:
    doc = _result(run_dir)
    c = doc["checks"][0]
    c["summary"] = '<img src=x onerror="window.pwned=4">'
    c["detail"] = "</pre><script>window.pwned=5</script>"
    c["evidence"]["violation"]["state"] = "<b onmouseover=window.pwned=6>x</b>"
    c["evidence"]["violation"]["stuck"][0]["reason"] = "</title><script>window.pwned=7</script>"
    (run_dir / "result.json").write_text(json.dumps(doc))


def test_text_from_history_files_is_escaped(register_run: Path) -> None:
    _make_hostile(register_run)
    html, mdown = build_report([load_run(register_run)])
    for raw in ("<img src=x", "<script>window.pwned", "<b onmouseover", "</title><script>"):
        assert raw not in html
    assert "&lt;img src=x onerror=&quot;window.pwned=4&quot;&gt;" in html
    assert "<img" not in re.sub(r"```.*?```", "", mdown, flags=re.S)


def test_report_files_are_written(set_run: Path) -> None:
    html_path, md_path = write_report([set_run])
    assert "op-timeline" in html_path.read_text()
    assert "check set: invalid" in md_path.read_text()


PROBE = """JSON.stringify({
  svg: !!document.querySelector('svg.op-timeline'),
  must: Array.from(document.querySelectorAll('svg.op-timeline g.op-must')).map(g => ({
    op: Number(g.dataset.op), fill: g.querySelector('rect').getAttribute('fill'),
    width: g.querySelector('rect').getBoundingClientRect().width,
    title: g.querySelector('title').textContent})),
  verdicts: Array.from(document.querySelectorAll('table.checks [data-verdict]')).map(e => ({
    kind: e.dataset.check, verdict: e.dataset.verdict, shown: e.innerText})),
  banner: document.querySelector('.banner .status').dataset.status,
  pwned: window.pwned === undefined ? null : window.pwned,
  text: document.body.innerText,
})"""


def _open(html: Path, shot: str) -> tuple[list[str], dict[str, Any]]:
    import asyncio

    from faultlab.report.browser import open_page

    from .conftest import ARTIFACTS

    load = asyncio.run(open_page(html, evaluate=PROBE, screenshot=True))
    assert load.screenshot is not None
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / shot).write_bytes(load.screenshot)
    assert isinstance(load.value, str)
    return load.errors, json.loads(load.value)


def _chromium() -> bool:
    from faultlab.report.browser import find_chromium

    return find_chromium() is not None


needs_chromium = pytest.mark.skipif(not _chromium(), reason="needs Chromium")


@needs_chromium
def test_in_chromium_the_violation_is_drawn_and_the_verdicts_are_result_jsons(
        register_run: Path) -> None:
    doc = _result(register_run)
    evidence = doc["checks"][0]["evidence"]["violation"]
    html, _ = write_report([register_run])
    errors, page = _open(html, "report-history-checks.png")
    assert errors == []
    assert page["svg"]
    assert [(m["op"], m["fill"]) for m in page["must"]] == [
        (evidence["must_complete"], "#e03131")]
    assert page["must"][0]["width"] >= 3
    assert evidence["stuck"][0]["reason"] in page["must"][0]["title"]  # on hover
    assert [(v["kind"], v["verdict"]) for v in page["verdicts"]] == [
        (c["kind"], c["verdict"]) for c in doc["checks"]]
    assert all(v["shown"].endswith(v["verdict"]) for v in page["verdicts"])
    assert page["banner"] == doc["status"] == "violated"


@needs_chromium
def test_in_chromium_history_text_stays_text(register_run: Path) -> None:
    _make_hostile(register_run)
    html, _ = write_report([register_run])
    errors, page = _open(html, "report-history-checks-hostile.png")
    assert errors == [] and page["pwned"] is None
    assert '<img src=x onerror="window.pwned=4">' in page["text"]
    assert "</title><script>window.pwned=7</script>" in page["must"][0]["title"]
