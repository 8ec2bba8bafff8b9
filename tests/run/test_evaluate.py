"""The evaluator judges windows of per-second statistics; fed directly, no clock involved."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from faultlab.experiment import load_experiment_text
from faultlab.run.clauses import build_clauses
from faultlab.run.evaluate import AbortSignal, Evaluation
from faultlab.workload.stats import Outcome, SecondStats

EXPERIMENT = """
name: t
workload: {http: {url: "http://127.0.0.1:1/", rate: 10/s}}
targets: {link: {proxy: {listen: "127.0.0.1:2", upstream: "127.0.0.1:3"}}}
slos:
  - {name: fast, latency: {p99: 100ms}, window: 2s}
  - {name: ok, success_ratio: 90%, window: 2s}
hypothesis:
  before: {hold: [fast, ok], for: 4s}
  during: {hold: [ok]}
  after: {hold: [fast, ok], recover_within: 3s}
faults:
  - {target: link, kind: latency, delay: 1s, duration: 3s}
abort:
  - {success_ratio_below: 10%, for: 2s}
"""


def second(index: int, ok: int = 10, failed: int = 0, latency: float = 0.01) -> SecondStats:
    s = SecondStats(index, sent=ok + failed, ok=ok, failed=failed)
    for _ in range(ok + failed):
        s.histogram.record_value(round(latency * 1e6))
    return s


class Feed:
    def __init__(self) -> None:
        self.exp = load_experiment_text(EXPERIMENT).experiment
        self.seconds: list[SecondStats] = []
        self.ev = Evaluation(self.exp, {
            "http": lambda a, b: [s for s in self.seconds if a <= s.index < b]})

    def add(self, s: SecondStats) -> object:
        self.seconds.append(s)
        return self.ev.on_second("http", s)

    def healthy_then_inject(self) -> None:
        """Four seconds of steady state, then the fault injected at t=4."""
        for i in range(4):
            self.add(second(i))
        self.ev.end_before(4.0)
        self.ev.fault_injected("latency-link", 4.0)


def test_healthy_run_holds_every_clause_and_measures_zero_recovery() -> None:
    f = Feed()
    f.healthy_then_inject()
    for i in range(4, 7):
        f.add(second(i))
    f.ev.fault_reverted("latency-link", 7.0)
    for i in range(7, 12):
        f.add(second(i))
    clauses = {c.name: c for c in build_clauses(f.exp, f.ev, True, "latency-link")}
    assert set(clauses) == {"before: fast", "before: ok", "during: ok", "after: fast",
                            "after: ok"}
    assert all(c.held for c in clauses.values()), clauses
    assert clauses["after: fast"].recovery_time == 0.0
    assert clauses["before: fast"].windows == 4


def test_violation_during_fault_is_reported_with_the_worst_window() -> None:
    f = Feed()
    f.healthy_then_inject()
    f.add(second(4))
    f.add(second(5, ok=5, failed=5))  # 50% success: below 90%
    f.add(second(6))
    f.ev.fault_reverted("latency-link", 7.0)
    for i in range(7, 12):
        f.add(second(i))
    clauses = {c.name: c for c in build_clauses(f.exp, f.ev, True, "latency-link")}
    during = clauses["during: ok"]
    assert not during.held
    assert during.measured is not None and during.measured < 0.9
    assert during.worst_window is not None and during.worst_window[0] <= 5 < during.worst_window[1]


def test_slow_recovery_is_measured_and_fails_recover_within() -> None:
    f = Feed()
    f.healthy_then_inject()
    for i in range(4, 7):
        f.add(second(i, latency=1.0))
    f.ev.fault_reverted("latency-link", 7.0)
    for i in range(7, 12):  # still slow for 5 s after the revert
        f.add(second(i, latency=1.0))
    for i in range(12, 16):
        f.add(second(i))
    clauses = {c.name: c for c in build_clauses(f.exp, f.ev, True, "latency-link")}
    after = clauses["after: fast"]
    assert after.recovery_time == 5.0
    assert not after.held
    assert "later than recover_within" in after.detail
    recovery, note = f.ev.recovery_of("latency-link")
    assert recovery == 5.0
    assert note == ""


def test_no_recovery_before_the_end_is_a_violation() -> None:
    f = Feed()
    f.healthy_then_inject()
    f.ev.fault_reverted("latency-link", 5.0)
    for i in range(4, 10):
        f.add(second(i, latency=0.5))
    clauses = {c.name: c for c in build_clauses(f.exp, f.ev, True, "latency-link")}
    assert not clauses["after: fast"].held
    assert clauses["after: fast"].recovery_time is None
    assert "did not recover" in clauses["after: fast"].detail


def test_steady_state_failure_is_visible_in_before_tallies() -> None:
    f = Feed()
    for i in range(4):
        f.add(second(i, latency=0.5))
    f.ev.end_before(4.0)
    tallies = dict(f.ev.before_result())
    assert tallies["fast"].failed == 4
    assert tallies["ok"].failed == 0


def test_abort_fires_only_after_the_first_fault_and_over_its_window() -> None:
    f = Feed()
    for i in range(4):  # total failure before any fault: no abort (the gate handles it)
        assert f.add(second(i, ok=0, failed=10)) is None
    f.ev.end_before(4.0)
    f.ev.fault_injected("latency-link", 4.0)
    assert f.add(second(4, ok=0, failed=10)) is None  # only 1 s of the 2 s window yet
    signal = f.add(second(5, ok=0, failed=10))
    assert signal is not None
    assert "below" in signal.reason  # type: ignore[attr-defined]


def test_forced_completion_stops_at_the_last_second_with_requests() -> None:
    from faultlab.workload.stats import Outcome, StatsRecorder

    rec = StatsRecorder(origin=100.0)
    rec.on_sent(100.2, 100.2)
    rec.on_done(100.2, Outcome.OK, 0.01)
    rec.on_sent(102.5, 102.5)  # still in flight at the end
    closed = rec.complete_until(5000.0, force=True)
    assert [s.index for s in closed] == [0, 1, 2]
    assert closed[2].in_flight == 1


def test_instantaneous_fault_has_no_during_clause_but_a_recovery() -> None:
    f = Feed()
    f.healthy_then_inject()
    f.ev.fault_reverted("latency-link", 4.0)  # a kill: reverted the moment it was applied
    for i in range(4, 9):
        f.add(second(i))
    clauses = {c.name for c in build_clauses(f.exp, f.ev, True, "latency-link")}
    assert "during: ok" not in clauses
    assert {"after: fast", "after: ok"} <= clauses


def _mixed(index: int, fast_failures: int, slow_ok: int) -> SecondStats:
    s = SecondStats(index, sent=fast_failures + slow_ok)
    for _ in range(fast_failures):
        s.record(Outcome.FAILED, 1_000)
    for _ in range(slow_ok):
        s.record(Outcome.OK, 500_000)
    return s


def test_a_latency_slo_on_successful_requests_is_not_fooled_by_fast_failures() -> None:
    exp = load_experiment_text("""
name: t
workload: {http: {url: "http://127.0.0.1:1/", rate: 10/s}}
slos:
  - {name: all, latency: {p50: 100ms}, window: 1s}
  - {name: ok-only, latency: {p50: 100ms, successful_only: true}, window: 1s}
hypothesis: {before: {hold: [all, ok-only], for: 2s}}
""").experiment
    seconds = [_mixed(i, fast_failures=8, slow_ok=2) for i in range(2)]
    ev = Evaluation(exp, {"http": lambda a, b: [s for s in seconds if a <= s.index < b]})
    for s in seconds:
        ev.on_second("http", s)
    ev.end_before(2.0)
    clauses = {c.slo: c for c in build_clauses(exp, ev, False, None)}
    assert clauses["all"].held and clauses["all"].measured == pytest.approx(0.001, rel=0.01)
    assert not clauses["ok-only"].held
    assert clauses["ok-only"].measured == pytest.approx(0.5, rel=0.01)
    assert clauses["ok-only"].objective == "p50 <= 100ms (ok requests)"


TWO_WORKLOADS = """
name: t
workloads:
  shop: {kind: http, url: "http://127.0.0.1:1/", rate: 10/s}
  api: {kind: http, url: "http://127.0.0.1:2/", rate: 10/s}
targets: {link: {proxy: {listen: "127.0.0.1:2", upstream: "127.0.0.1:3"}}}
slos:
  - {name: shop-ok, workload: shop, success_ratio: 90%, window: 2s}
  - {name: api-ok, workload: api, success_ratio: 90%, window: 1s}
hypothesis:
  after: {hold: [shop-ok, api-ok], recover_within: 10s}
faults:
  - {target: link, kind: latency, delay: 1s, duration: 3s}
"""


def _window(seconds: list[SecondStats]) -> Callable[[int, int], list[SecondStats]]:
    return lambda a, b: [s for s in seconds if a <= s.index < b]


def test_recovery_waits_for_every_workload_and_names_the_one_that_did_not() -> None:
    exp = load_experiment_text(TWO_WORKLOADS).experiment
    fed: dict[str, list[SecondStats]] = {"shop": [], "api": []}
    ev = Evaluation(exp, {n: _window(fed[n]) for n in fed})
    ev.end_before(0.0)
    ev.fault_injected("latency-link", 0.0)
    ev.fault_reverted("latency-link", 3.0)
    for i in range(3, 12):
        for name, healthy_from in (("shop", 5), ("api", 8)):
            s = second(i) if i >= healthy_from else second(i, ok=0, failed=10)
            fed[name].append(s)
            ev.on_second(name, s)
    assert ev.evaluators["shop"].recovery_of("latency-link") == (2.0, "")
    assert ev.evaluators["api"].recovery_of("latency-link") == (5.0, "")
    assert ev.recovery_of("latency-link") == (5.0, "")  # the later of the two
    clauses = {c.slo: c for c in build_clauses(exp, ev, True, "latency-link")}
    assert clauses["shop-ok"].workload == "shop" and clauses["api-ok"].workload == "api"
    assert clauses["shop-ok"].recovery_time == clauses["api-ok"].recovery_time == 5.0

    still: dict[str, list[SecondStats]] = {"shop": [], "api": []}
    ev = Evaluation(exp, {n: _window(still[n]) for n in still})
    ev.fault_injected("latency-link", 0.0)
    ev.fault_reverted("latency-link", 3.0)
    for i in range(3, 8):
        for name in still:
            s = second(i) if name == "shop" else second(i, ok=0, failed=10)
            still[name].append(s)
            ev.on_second(name, s)
    recovery, why = ev.recovery_of("latency-link")
    assert recovery is None
    assert why == "the SLOs did not hold again before the run ended (workload 'api')"


def blind(index: int, polls: int = 10) -> SecondStats:
    """A second in which the probe could not ask once (Prometheus down)."""
    s = SecondStats(index, sent=polls)
    for _ in range(polls):
        s.record(Outcome.PROBE_ERROR, 0)
    s.error = "Prometheus at http://127.0.0.1:9 could not be asked: refused"
    return s


def test_probe_errors_judge_nothing_and_say_so_apart_from_breaches() -> None:
    f = Feed()
    f.add(second(0))
    f.add(second(1))
    f.add(blind(2))
    f.add(blind(3))  # the window [2, 4) holds nothing but errors: not judged, not failed
    f.ev.end_before(4.0)
    f.ev.fault_injected("latency-link", 4.0)
    for i in range(4, 7):
        f.add(second(i, ok=2, failed=8))  # a real breach during the fault
    clauses = {c.name: c for c in build_clauses(f.exp, f.ev, True, None)}
    before = clauses["before: ok"]
    assert not before.held and before.failed_windows == 0 and before.probe_errors == 1
    assert before.result == "probe error" and not before.breached
    assert "could not be asked" in (before.probe_error or "")
    assert "probe error" in before.detail
    during = clauses["during: ok"]
    assert during.result == "violated" and during.breached and during.probe_errors == 0


def test_a_probe_error_is_not_planned_and_leaves_no_latency() -> None:
    s = blind(0, polls=3)
    s.record(Outcome.OK, 1000)
    s.sent += 1
    assert s.finished == s.sent == 4 and s.in_flight == 0
    from faultlab.workload.stats import aggregate

    agg = aggregate([s])
    assert agg.planned == 1 and agg.success_ratio == 1.0 and agg.errors == 3
    assert s.histogram.get_total_count() == 1


BUDGETED = """
name: b
workload: {http: {url: "http://127.0.0.1:1/", rate: 100/s}}
targets: {link: {proxy: {listen: "127.0.0.1:2", upstream: "127.0.0.1:3"}}}
slos:
  - {name: avail, success_ratio: 99.9%, window: 2s, budget: {period: 30d, max_spend: 1%}}
  - {name: fast, latency: {p99: 100ms}, window: 2s, budget: {period: 7d}}
hypothesis:
  before: {hold: [avail], for: 4s}
faults:
  - {target: link, kind: latency, delay: 1s, duration: 10s}
abort:
  - burn_rate: {slo: avail, above: 14.4, long: 6s, short: 2s}
"""


def budgeted() -> tuple[Evaluation, list[SecondStats]]:
    exp = load_experiment_text(BUDGETED).experiment
    seconds: list[SecondStats] = []
    ev = Evaluation(exp, {"http": lambda a, b: [s for s in seconds if a <= s.index < b]})
    return ev, seconds


def test_the_budget_consumed_is_the_hand_computation_of_the_runs_own_seconds() -> None:
    ev, seconds = budgeted()
    # 10 seconds of 100 requests; seconds 4-6 fail 10 each (30 bad) and 5 requests of
    # second 5 take 250 ms (slower than the 100 ms bound; a p99 allows 1% of 1,000)
    for i in range(10):
        s = second(i, ok=100 - (10 if 4 <= i <= 6 else 0), failed=10 if 4 <= i <= 6 else 0)
        if i == 5:
            for _ in range(5):
                s.histogram.record_value(250_000)
            s.sent += 5
            s.ok += 5
        seconds.append(s)
        ev.on_second("http", s)
    avail, fast = ev.budgets()
    assert (avail.bad, avail.total, avail.seconds) == (30, 1005, 10)
    # by hand: error ratio 30/1005; budget 0.1% of requests; burn = ratio / 0.001;
    # consumed = burn x 10 s / 30 days
    burn = (30 / 1005) / 0.001
    assert avail.burn_rate == pytest.approx(burn)
    assert avail.consumed == pytest.approx(burn * 10 / (30 * 86400))
    assert avail.consumed == pytest.approx(30 / (0.001 * (1005 / 10) * 30 * 86400))
    assert not avail.exceeded and avail.max_spend == pytest.approx(0.01)
    assert (fast.bad, fast.total) == (5, 1005)  # the 250 ms ones, not the 10 ms ones
    assert fast.consumed == pytest.approx((5 / 1005) / 0.01 * 10 / (7 * 86400))


def test_a_burn_rate_abort_fires_at_the_second_the_hand_computation_says() -> None:
    ev, seconds = budgeted()
    fired: list[tuple[int, AbortSignal]] = []

    def feed(s: SecondStats) -> None:
        seconds.append(s)
        signal = ev.on_second("http", s)
        if signal is not None:
            fired.append((s.index, signal))

    for i in range(4):
        feed(second(i, ok=100))
    ev.end_before(4.0)
    ev.fault_injected("latency-link", 4.0)
    # from second 4 on, 2 of 100 fail: the short window (2s) burns 20x from second 5 on;
    # the long (6s) window [s-5, s] holds 2 x (s-3) bad of 600: it burns
    # (2 (s-3) / 600) / 0.001 > 14.4  <=>  s - 3 > 4.32  <=>  s >= 8
    for i in range(4, 12):
        feed(second(i, ok=98, failed=2))
    assert fired and fired[0][0] == 8, fired
    signal = fired[0][1]
    assert "burns its error budget" in signal.reason and "30d budget lasts" in signal.reason


def test_a_burn_rate_needs_its_short_window_after_the_injection() -> None:
    ev, seconds = budgeted()
    for i in range(6):  # failing before any fault: the steady state's business, no abort
        s = second(i, ok=50, failed=50)
        seconds.append(s)
        assert ev.on_second("http", s) is None
    ev.end_before(6.0)
    ev.fault_injected("latency-link", 6.0)
    s = second(6, ok=50, failed=50)
    seconds.append(s)
    assert ev.on_second("http", s) is None  # the 2s short window reaches before the fault
    s = second(7, ok=50, failed=50)
    seconds.append(s)
    assert ev.on_second("http", s) is not None
