"""Fixtures for report tests: run directories made by the real runner in virtual time
(``story.py``), once per session, and copied for each test (tests may damage their copy)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from faultlab.journal import Redactor
from faultlab.record import RunRecord
from faultlab.run.outputs import write_result

from .story import run_story, story_text, story_variant

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"

HOSTILE_NAME = "<script>window.pwned=1</script>"
HOSTILE_FAULT = '<img src=x onerror="window.pwned=2">'
HOSTILE_ERROR = "stuck</script><script>window.pwned=3</script>"

HISTORY = "  kv: {kind: story-history, model: %s, dropped: %d, retired: %d}\n"


def _hostile(run_dir: Path) -> Path:
    """A run whose texts try to inject HTML: the description and a revert error from the
    run itself, and (as a tampered result.json would) the names in its record."""
    faults = ("  - {name: first, kind: story-outage, duration: 4s, note: '" + HOSTILE_FAULT
              + "'}\n  - {name: stuck, kind: story-outage, start: 7s, duration: 3s, stuck: true,"
              " message: '" + HOSTILE_ERROR + "'}\n")
    run_story(run_dir, story_text("hostile", faults=faults, before="5s",
                                  description=HOSTILE_NAME + " a description"),
              argv=["faultlab", "run", "hostile.yaml", "--var", f"x={HOSTILE_NAME}"])
    record = RunRecord.load(run_dir / "result.json")
    faults_ = [record.faults[0].model_copy(update={"name": HOSTILE_FAULT}), *record.faults[1:]]
    tampered = record.model_copy(update={
        "experiment": record.experiment.model_copy(update={"name": HOSTILE_NAME}),
        "faults": faults_})
    write_result(tampered, run_dir, Redactor())
    return run_dir


@pytest.fixture(scope="session")
def templates(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("story-runs")
    return {
        "naive": story_variant(root / "naive", "naive", broken=True),
        "resilient": story_variant(root / "resilient", "resilient", broken=False),
        "hostile": _hostile(root / "hostile"),
        "register": run_story(root / "register", story_text(
            "register-partition", broken=False, extra_workloads=HISTORY % ("cas-register", 3, 1)),
            file="register-partition.yaml")[0],
        "set": run_story(root / "set", story_text(
            "set-partition", broken=False, extra_workloads=HISTORY % ("set", 0, 0)),
            file="set-partition.yaml")[0],
    }


def _copy(templates: dict[str, Path], which: str, tmp_path: Path) -> Path:
    return Path(shutil.copytree(templates[which], tmp_path / which))


@pytest.fixture
def naive_run(templates: dict[str, Path], tmp_path: Path) -> Path:
    return _copy(templates, "naive", tmp_path)


@pytest.fixture
def resilient_run(templates: dict[str, Path], tmp_path: Path) -> Path:
    return _copy(templates, "resilient", tmp_path)


@pytest.fixture
def hostile_run(templates: dict[str, Path], tmp_path: Path) -> Path:
    return _copy(templates, "hostile", tmp_path)


@pytest.fixture
def register_run(templates: dict[str, Path], tmp_path: Path) -> Path:
    return _copy(templates, "register", tmp_path)


@pytest.fixture
def set_run(templates: dict[str, Path], tmp_path: Path) -> Path:
    return _copy(templates, "set", tmp_path)
