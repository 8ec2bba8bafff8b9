"""The demo's promise: the naive variant visibly fails, the resilient one holds."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from rich.console import Console

from faultlab.demo.suite import EXPERIMENTS, experiment_files, run_demo
from faultlab.experiment import load_experiment

pytestmark = pytest.mark.slow


def test_every_demo_experiment_file_is_valid_for_both_variants() -> None:
    files = experiment_files()
    assert set(files) == set(EXPERIMENTS)
    for path in files.values():
        for variant in ("naive", "resilient"):
            exp = load_experiment(path, {"variant": variant}).experiment
            assert exp.faults and exp.hypothesis.during.hold


def test_data_down_contrast(tmp_path: Path) -> None:
    out = io.StringIO()
    code = run_demo(tmp_path, console=Console(file=out, width=120), experiments=("data-down",))
    text = out.getvalue()
    assert code == 0, text
    results = {}
    for run_dir in tmp_path.iterdir():
        if not (run_dir / "result.json").exists():
            assert run_dir.name == "demo-data-down-comparison"
            assert (run_dir / "report.html").exists()
            continue
        variant = run_dir.name.rsplit("-", 1)[-1]
        results[variant] = (run_dir / "result.json").read_text()
    assert '"status": "violated"' in results["naive"], results["naive"]
    assert '"status": "held"' in results["resilient"], results["resilient"]
    assert "VIOLATED" in text and "HELD" in text
