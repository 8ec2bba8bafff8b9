"""Fixtures for report tests: synthetic run directories written with the real Journal."""

from __future__ import annotations

from pathlib import Path

import pytest

from faultlab.report.synthetic import SyntheticFault, write_synthetic_run

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


@pytest.fixture
def naive_run(tmp_path: Path) -> Path:
    return write_synthetic_run(tmp_path / "naive", name="data-down", variant="naive",
                               broken=True, generator_lag=True)


@pytest.fixture
def resilient_run(tmp_path: Path) -> Path:
    return write_synthetic_run(tmp_path / "resilient", name="data-down", variant="resilient",
                               broken=False)


@pytest.fixture
def hostile_run(tmp_path: Path) -> Path:
    """Names an attacker controls (a fault name in an experiment file) try to inject HTML."""
    return write_synthetic_run(
        tmp_path / "hostile", name="<script>window.pwned=1</script>",
        faults=(SyntheticFault('<img src=x onerror="window.pwned=2">', "latency", 5, 9),
                SyntheticFault("stuck</script><script>window.pwned=3</script>", "down", 12,
                               15, revert_ok=False)))
