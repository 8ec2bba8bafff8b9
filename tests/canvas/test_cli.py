"""``faultlab canvas analyze``: the table, --json, --fail-on and exit codes."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from faultlab.cli import app, mount_groups

from .test_rules import CHAIN, NAIVE_RETRIES

mount_groups()


def run(tmp_path: Path, text: str, *args: str) -> tuple[int, str, str]:
    file = tmp_path / "c.yaml"
    file.write_text(text, encoding="utf-8")
    out = CliRunner().invoke(app, ["canvas", "analyze", str(file), *args])
    return out.exit_code, out.stdout, out.stderr


def test_an_error_fails_by_default(tmp_path: Path) -> None:
    code, out, _ = run(tmp_path, CHAIN)
    assert code == 1
    assert "availability.slo-unreachable" in out and "99.950%" in out


def test_fail_on(tmp_path: Path) -> None:
    relaxed = CHAIN.replace("99.99%}}", "99%}}")
    assert run(tmp_path, relaxed)[0] == 0  # warnings only (SPOFs)
    assert run(tmp_path, relaxed, "--fail-on", "warning")[0] == 1
    assert run(tmp_path, CHAIN, "--fail-on", "never")[0] == 0
    assert run(tmp_path, CHAIN, "--fail-on", "sometimes")[0] == 2


def test_json(tmp_path: Path) -> None:
    code, out, _ = run(tmp_path, NAIVE_RETRIES, "--json", "--amplification", "30")
    doc = json.loads(out)
    assert code == 1  # retries.not-idempotent is an error
    assert doc["version"] == 1 and doc["canvas"] == "retries"
    assert doc["journeys"]["j"]["worst_case"] is not None
    assert doc["calls"]["svc->db"]["amplification"] == 27
    rules = [f["rule"] for f in doc["findings"]]
    assert "retries.amplification" not in rules  # 27x is under 30x
    assert doc["counts"]["error"] == 1
    first = doc["findings"][0]
    assert set(first) == {"rule", "severity", "subject", "message", "numbers", "reference",
                          "fix", "journeys", "weight"}


def test_bad_input_is_exit_2_with_located_lines(tmp_path: Path) -> None:
    code, _, err = run(tmp_path, CHAIN.replace("to: auth", "to: ath"))
    assert code == 2
    assert "c.yaml:11:21: dependencies[1].to:" in err and "did you mean 'auth'?" in err
