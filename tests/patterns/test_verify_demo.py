"""`faultlab demo --patterns` end to end: the demo's two canvases verified in the running
system. The resilient variant must be verified for timeouts, retries with backoff and
jitter, circuit breaker, bulkhead and fallback on both calls; the naive one broken for each,
with the evidence measured at the callee (attempts, gaps, breaker opening, in flight,
the journey's SLO). The verdict page and a run's report are opened in Chromium."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from faultlab.record import RunRecord
from faultlab.report.browser import find_chromium, open_page

ARTIFACTS = Path("/tmp/faultlab-patterns-verify")
PATTERNS = {"timeouts", "retries-backoff-jitter", "circuit-breaker", "bulkhead", "fallback"}
PLACES = {"storefront -> inventory", "inventory -> data"}


def _results(out: Path, canvas: str) -> dict[tuple[str, str], dict[str, Any]]:
    data = json.loads((out / f"patterns-{canvas}" / "verify.json").read_text())
    return {(r["pattern"], r["place"]): r for r in data["results"]}


@pytest.mark.slow
@pytest.mark.timeout(900)  # twelve experiments, two at a time: minutes on a busy machine
def test_demo_patterns_verified_in_resilient_and_broken_in_naive(tmp_path: Path) -> None:
    out = subprocess.run([sys.executable, "-m", "faultlab", "demo", "--patterns",
                          "--runs-dir", str(tmp_path)], capture_output=True, text=True,
                         timeout=900)
    assert out.returncode == 0, out.stdout + out.stderr
    resilient, naive = _results(tmp_path, "demo-resilient"), _results(tmp_path, "demo-naive")
    assert set(resilient) == set(naive) == {(p, q) for p in PATTERNS for q in PLACES}
    for key, r in resilient.items():
        assert r["verdict"] == "verified", (key, r["summary"])
    for key, r in naive.items():
        assert r["verdict"] == "broken", (key, r["summary"])
        assert r["reasons"], key  # the evidence, said
    # the measured signature, not configuration: attempts counted, the breaker's opening,
    # how long callers waited, in flight
    sig = {k: r["signature"] for k, r in resilient.items()}
    assert sig[("retries-backoff-jitter", "inventory -> data")]["max_attempts"] == 3
    assert "opened_after_s" in sig[("circuit-breaker", "inventory -> data")]
    assert float(str(sig[("timeouts", "inventory -> data")]["p99_s"])) < 5.0
    naive_sig = {k: r["signature"] for k, r in naive.items()}
    assert float(str(naive_sig[("timeouts", "inventory -> data")]["p50_s"])) > 1.0
    # each run's record carries what reached the callee
    run_dir = Path(str(resilient[("circuit-breaker", "inventory -> data")]["run_dir"]))
    record = RunRecord.load(run_dir / "result.json")
    seen = record.observations["inventory-to-data"]
    assert seen.requests > 0 and seen.traced == seen.requests and seen.dropped == 0
    if find_chromium() is None:
        return
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    for name, page in (("verify-resilient", tmp_path / "patterns-demo-resilient" /
                        "verify.html"), ("verify-naive", tmp_path / "patterns-demo-naive" /
                                         "verify.html"), ("breaker-run", run_dir /
                                                          "report.html")):
        load = asyncio.run(open_page(page, screenshot=True, width=1280,
                                     evaluate="document.body.innerText"))
        assert load.errors == [] and load.screenshot is not None, name
        (ARTIFACTS / f"{name}.png").write_bytes(load.screenshot)
        assert isinstance(load.value, str)
        if name == "breaker-run":
            assert "At the dependencies" in load.value
            assert "inventory-to-data" in load.value
        else:
            assert "verified" in load.value or "broken" in load.value
