"""`faultlab report`: one run, a comparison (which needs --out), and one-line errors for what
is not a run directory or holds a damaged result.json."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from faultlab.cli import app


def _report(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, ["report", *args])
    return result.exit_code, result.output


def test_report_single_and_comparison(naive_run: Path, resilient_run: Path,
                                      tmp_path: Path) -> None:
    code, out = _report(str(naive_run))
    assert code == 0, out
    assert (naive_run / "report.html").stat().st_size > 0
    assert (naive_run / "report.md").read_text().startswith("# data-down: **VIOLATED**")
    code, out = _report(str(naive_run), str(resilient_run))
    assert code == 2 and "--out" in out
    code, out = _report(str(naive_run), str(resilient_run), "--out", str(tmp_path / "cmp"))
    assert code == 0, out
    assert "| clause | naive | resilient |" in (tmp_path / "cmp" / "report.md").read_text()


def test_report_errors_are_one_line(naive_run: Path, tmp_path: Path) -> None:
    code, out = _report(str(tmp_path / "nothing-here"))
    assert code == 2 and "no journal.jsonl here" in out and "Traceback" not in out
    (naive_run / "result.json").write_text('{"record_version": 9}')
    code, out = _report(str(naive_run))
    assert code == 2 and "Traceback" not in out
    assert out.strip().splitlines()[-1].endswith(
        "record version 9 is newer than this faultlab reads (1) (hint: upgrade faultlab)")
