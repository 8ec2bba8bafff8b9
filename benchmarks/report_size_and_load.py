"""Report size and load time for a 10-minute run at 500 requests/s.

The runs are made by the real runner in virtual time with the report tests' scripted
plug-ins (tests/report/story.py: a measured workload, an outage fault), so the journal and
result.json are exactly what faultlab writes.

Run: ``.venv/bin/python benchmarks/report_size_and_load.py``

Prints the HTML size against the 2 MB budget, the time to build it, and the time headless
Chromium takes from navigation until every chart is drawn, as a ratio against a baseline
measured in the same run: a static page of the same byte size with no script (what the
browser costs anyway). Also a two-run comparison of the same length.
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

from faultlab.report import write_report
from faultlab.report.browser import find_chromium, open_page

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from report.story import run_story, story_text

BUDGET_BYTES = 2_000_000
BUDGET_LOAD_S = 2.0
REPEAT = 3
FAULTS = ("  - {name: db-latency, kind: story-outage, duration: 180s}\n"
          "  - {name: cache-down, kind: story-outage, start: 240s, duration: 60s}\n")


def _load_times(path: Path, ready: str) -> list[float]:
    out = []
    for _ in range(REPEAT):
        load = asyncio.run(open_page(path, ready=ready))
        if load.errors:
            raise SystemExit(f"{path}: console errors: {load.errors}")
        out.append(load.load_ms / 1000)
    return out


def main() -> int:
    if find_chromium() is None:
        print("needs Chromium (Debian: apt-get install chromium)")
        return 1
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        t0 = time.perf_counter()
        a, _ = run_story(root / "naive", story_text("naive", rate=500, before="294s",
                                                    faults=FAULTS, cap=1000, step="100ms"))
        b, _ = run_story(root / "resilient", story_text(
            "resilient", broken=False, rate=500, before="294s", faults=FAULTS, cap=1000,
            step="100ms"))
        journal_mb = (a / "journal.jsonl").stat().st_size / 1e6
        print(f"journals: 600 s at 500 req/s (virtual time), {journal_mb:.2f} MB each "
              f"({time.perf_counter() - t0:.1f} s to write both)")
        rows = []
        for label, dirs, out in (("single", [a], None), ("comparison", [a, b], root / "cmp")):
            t1 = time.perf_counter()
            html, _ = write_report(dirs, out)
            build_s = time.perf_counter() - t1
            size = html.stat().st_size
            baseline = root / f"baseline-{label}.html"
            filler = "x" * max(0, size - 200)
            baseline.write_text(f"<!doctype html><html><body><p>{filler}</p><script>"
                                "document.documentElement.dataset.ready='1'</script>"
                                "</body></html>", encoding="utf-8")
            report_s = statistics.median(_load_times(html, "document.documentElement."
                                                           "dataset.ready === '1'"))
            base_s = statistics.median(_load_times(baseline, "document.documentElement."
                                                             "dataset.ready === '1'"))
            rows.append((label, size, build_s, report_s, base_s))
    print(f"{'report':12} {'size':>10} {'of 2 MB':>8} {'build':>8} {'load':>8} "
          f"{'baseline':>9} {'ratio':>6}")
    ok = True
    for label, size, build_s, report_s, base_s in rows:
        print(f"{label:12} {size / 1e3:8.1f}kB {size / BUDGET_BYTES:8.1%} {build_s:7.2f}s "
              f"{report_s:7.3f}s {base_s:8.3f}s {report_s / base_s:5.2f}x")
        ok &= size < BUDGET_BYTES and report_s < BUDGET_LOAD_S
    print("load = navigation until every chart is drawn (median of "
          f"{REPEAT}); baseline = a script-free page of the same size; "
          f"budget: < 2 MB, < {BUDGET_LOAD_S:g} s: {'met' if ok else 'NOT MET'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
