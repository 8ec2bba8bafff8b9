"""The behavioural oracles on constructed observations: edge cases (nothing, no trace ids,
open requests, equal times), each verdict's numbers, and properties that hold for any
observations (order and time shifts change nothing; more misbehaviour never verifies)."""

from __future__ import annotations

import dataclasses
import itertools
import random
from collections.abc import Callable, Sequence
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from faultlab.patterns.oracles import (
    NO_TRACE,
    ORACLES,
    Evidence,
    OracleResult,
    Status,
    Window,
    amplification,
    bounded_retries,
    circuit_breaker,
    concurrency_limit,
    oracle,
    run_oracle,
    timeout,
)
from faultlab.proxy.observe import RequestObservation

_conns = itertools.count(1)


def obs(start: float, end: float | None, *, trace: str | None = None, status: int | None = 503,
        outcome: str | None = None, conn: int | None = None, seq: int = 0,
        proxy: str = "dep") -> RequestObservation:
    """One request; its outcome follows from ``end`` and ``status`` unless given."""
    if outcome is None:
        outcome = "open" if end is None else "response" if status is not None else "closed"
    response = end if outcome in ("response", "injected") else None
    return RequestObservation(proxy, next(_conns) if conn is None else conn, seq, "GET", "/",
                              trace, None, start, response,
                              status if response is not None else None, end, outcome)


FAULT = Window(10.0, 20.0)
BEFORE = Window(0.0, 10.0)
AFTER = Window(20.0, 30.0)


def client(n: int, gaps: Callable[[int, int], float], attempts: int = 4, *,
           duration: float = 0.002, every: float = 0.1, start: float = 10.0, first: int = 0
           ) -> list[RequestObservation]:
    """``n`` requests each of ``attempts`` failed attempts; gap k of request i is
    ``gaps(i, k)`` seconds (k from 1)."""
    out = []
    for i in range(n):
        t = start + i * every
        for k in range(1, attempts + 1):
            out.append(obs(t, t + duration, trace=f"{first + i:032x}"))
            t += duration + (gaps(i, k) if k < attempts else 0)
    return out


def full_jitter(seed: int = 7, base: float = 0.040, cap: float = 10.0
                ) -> Callable[[int, int], float]:
    rng = random.Random(seed)
    return lambda i, k: rng.uniform(0, min(cap, base * 2 ** (k - 1)))


def retries(requests: Sequence[RequestObservation], bound: int = 4) -> OracleResult:
    return bounded_retries(Evidence(requests, FAULT), max_attempts=bound)


# --- the registry and the model -------------------------------------------------------------

def test_the_oracles_are_registered_under_the_names_their_results_carry() -> None:
    registered = {"bounded_retries": bounded_retries, "circuit_breaker": circuit_breaker,
                  "timeout": timeout, "concurrency_limit": concurrency_limit,
                  "amplification": amplification}
    assert registered == ORACLES
    params: dict[str, dict[str, float]] = {"bounded_retries": {"max_attempts": 3},
              "circuit_breaker": {"cool_down": 1.0, "open_within": 2.0},
              "timeout": {"timeout": 1.0}, "concurrency_limit": {"limit": 4},
              "amplification": {"max_ratio": 1.1}}
    ev = Evidence([], FAULT, BEFORE, AFTER)
    for name in ORACLES:
        result = run_oracle(name, ev, **params[name])
        assert (result.oracle, result.status) == (name, Status.INCONCLUSIVE)
        assert result.reasons and result.summary.startswith("inconclusive: ")


def test_registration_refuses_a_second_oracle_of_a_name_and_run_oracle_an_unknown_one() -> None:
    with pytest.raises(ValueError, match="registered already"):
        oracle(timeout)
    with pytest.raises(ValueError, match=r"unknown oracle 'nope'; known: amplification, "
                       r"bounded_retries"):
        run_oracle("nope", Evidence([], FAULT))


def test_a_new_oracle_is_added_by_registration() -> None:
    def request_count(ev: Evidence) -> OracleResult:
        n = len(ev.started_in(ev.fault))
        return OracleResult("request_count", Status.VERIFIED, f"{n} requests", {"requests": n})

    try:
        oracle(request_count)
        result = run_oracle("request_count", Evidence([obs(12, 13)], FAULT))
        assert result.signature == {"requests": 1}
    finally:
        del ORACLES["request_count"]


def test_windows_are_half_open_and_refuse_bad_times() -> None:
    assert 10.0 in FAULT and 20.0 not in FAULT and FAULT.duration == 10.0
    with pytest.raises(ValueError, match="ends after it starts"):
        Window(2.0, 1.0)
    with pytest.raises(ValueError, match="finite"):
        Window(0.0, float("nan"))
    assert Window(3.0, 3.0).duration == 0.0


def test_evidence_comes_from_one_proxy() -> None:
    with pytest.raises(ValueError, match=r"one proxy, not \['a', 'b'\]"):
        Evidence([obs(1, 2, proxy="a"), obs(1, 2, proxy="b")], FAULT)


def test_parameters_out_of_range_are_errors_not_verdicts() -> None:
    ev = Evidence([], FAULT, BEFORE, AFTER)
    with pytest.raises(ValueError, match="max_attempts"):
        bounded_retries(ev, max_attempts=0)
    with pytest.raises(ValueError, match="cool_down"):
        circuit_breaker(ev, cool_down=0.0, open_within=1.0)
    with pytest.raises(ValueError, match="open_within"):
        circuit_breaker(ev, cool_down=None, open_within=-1.0)
    with pytest.raises(ValueError, match="timeout is positive"):
        timeout(ev, timeout=0.0)
    with pytest.raises(ValueError, match="slack"):
        timeout(ev, timeout=1.0, slack=-0.1)
    with pytest.raises(ValueError, match="limit"):
        concurrency_limit(ev, limit=0)


def test_a_result_round_trips_through_json_and_bad_json_is_refused() -> None:
    result = retries(client(12, lambda i, k: 0.0))
    assert OracleResult.from_json(result.to_json()) == result
    good = result.to_json()
    for bad, message in [({**good, "status": "fine"}, "unknown oracle status"),
                         ({k: v for k, v in good.items() if k != "reasons"}, "the keys"),
                         ({**good, "signature": {"x": True}}, "signature"),
                         ({**good, "signature": {"x": [1]}}, "signature"),
                         ({**good, "reasons": "one"}, "reasons"),
                         ({**good, "summary": 3}, "strings")]:
        with pytest.raises(ValueError, match=message):
            OracleResult.from_json(bad)


results = st.builds(
    OracleResult, st.sampled_from(sorted(ORACLES)), st.sampled_from(Status), st.text(),
    st.dictionaries(st.text(), st.integers() | st.floats(allow_nan=False) | st.text()),
    st.lists(st.text()))


@given(results)
def test_any_result_round_trips_through_json(result: OracleResult) -> None:
    assert OracleResult.from_json(result.to_json()) == result


# --- bounded_retries --------------------------------------------------------------------------

def test_retries_without_requests_or_trace_ids_are_inconclusive() -> None:
    assert retries([]).status is Status.INCONCLUSIVE
    untraced = [dataclasses.replace(r, trace_id=None) for r in client(20, full_jitter())]
    result = retries(untraced)
    assert (result.status, result.reasons) == (Status.INCONCLUSIVE, [NO_TRACE])
    assert result.signature["untraced_attempts"] == 80


def test_exponential_backoff_with_full_jitter_is_verified() -> None:
    result = retries(client(40, full_jitter()))
    assert result.status is Status.VERIFIED, result.reasons
    sig = result.signature
    assert (sig["requests"], sig["retried_requests"], sig["max_attempts"]) == (40, 40, 4)
    for k, cap_ms in [(1, 40), (2, 80), (3, 160)]:
        assert 0.3 * cap_ms < float(sig[f"gap_{k}_mean_ms"]) < 0.7 * cap_ms
        assert float(sig[f"gap_{k}_dispersion"]) > 0.3
    assert 1.5 < float(sig["growth_2_over_1"]) < 2.7
    assert result.summary.startswith("bounded retries with backoff and jitter: 40 requests")


def test_an_immediate_retry_is_broken_and_named() -> None:
    result = retries(client(40, lambda i, k: 0.0003 + 0.0001 * (i % 3)))
    assert result.status is Status.BROKEN
    assert result.reasons == [result.reasons[0]]
    assert "retries immediately" in result.reasons[0]
    assert "0.4 ms, its own turnaround" in result.reasons[0]


def test_a_short_delay_all_alike_is_immediate_but_a_short_jittered_one_is_a_backoff() -> None:
    # a turnaround slowed to ~4 ms by a busy machine
    slowed = retries(client(40, lambda i, k: 0.004 + 0.0001 * (i % 3)))
    assert slowed.status is Status.BROKEN and len(slowed.reasons) == 1
    assert "4.1 ms, all alike (dispersion 0.024)" in slowed.reasons[0]
    # the demo's resilient retries: full jitter from a 5 ms base, 20 ms cap
    demo = retries(client(40, full_jitter(base=0.005, cap=0.020), attempts=3), bound=3)
    assert demo.status is Status.VERIFIED, demo.reasons


def test_a_fixed_delay_neither_grows_nor_jitters() -> None:
    result = retries(client(40, lambda i, k: 0.100 + 0.0005 * (i % 5)))
    assert result.status is Status.BROKEN
    assert len(result.reasons) == 2
    assert "do not grow" in result.reasons[0] and "x1.00" in result.reasons[0]
    assert "no jitter" in result.reasons[1]


def test_exponential_backoff_without_jitter_lacks_only_jitter() -> None:
    result = retries(client(40, lambda i, k: 0.040 * 2 ** (k - 1)))
    assert result.status is Status.BROKEN
    assert len(result.reasons) == 1 and result.reasons[0].startswith("no jitter: gap_1")


def test_a_random_delay_that_does_not_grow_is_not_a_backoff() -> None:
    rng = random.Random(3)
    result = retries(client(40, lambda i, k: rng.uniform(0, 0.1)))
    assert result.status is Status.BROKEN
    assert len(result.reasons) == 1 and "do not grow" in result.reasons[0]


def test_a_capped_backoff_may_plateau_but_not_shrink() -> None:
    capped = retries(client(40, full_jitter(cap=0.080), attempts=5), bound=5)
    assert capped.status is Status.VERIFIED, capped.reasons
    rng = random.Random(5)
    shrinking = retries(client(40, lambda i, k: rng.uniform(0, [0.04, 0.16, 0.04][k - 1])))
    assert shrinking.status is Status.BROKEN
    assert [r.split(":")[0] for r in shrinking.reasons] == ["the gaps shrink"]


def test_more_attempts_than_the_bound_is_broken_even_on_little_evidence() -> None:
    result = retries(client(3, full_jitter(), attempts=6))
    assert result.status is Status.BROKEN
    assert result.reasons == ["3 of 3 requests made more than 4 attempts (up to 6): the "
                              "retries are not bounded"]
    many = retries(client(40, full_jitter(cap=0.16), attempts=6))
    assert many.status is Status.BROKEN and len(many.reasons) == 1
    assert many.signature["over_bound_requests"] == 40


def test_too_few_retried_requests_are_inconclusive_with_the_counts() -> None:
    once = [obs(10 + i / 4, 10.001 + i / 4, trace=f"{i:032x}", status=200) for i in range(30)]
    result = retries(once + client(5, full_jitter(), start=15, first=100))
    assert result.status is Status.INCONCLUSIVE
    assert result.reasons == ["only 5 of 35 requests were retried (10 are needed to judge the "
                              "backoff)"]


def test_a_bound_of_one_is_verified_when_nothing_is_retried() -> None:
    once = [obs(10 + i / 10, 10.001 + i / 10, trace=f"{i:032x}", status=200) for i in range(12)]
    assert retries(once, bound=1).status is Status.VERIFIED
    assert retries(once + client(1, full_jitter(), attempts=2, start=15),
                   bound=1).status is Status.BROKEN


def test_one_retry_per_request_judges_jitter_but_not_growth() -> None:
    result = retries(client(30, full_jitter(), attempts=2), bound=2)
    assert result.status is Status.VERIFIED
    assert "gap_1_dispersion" in result.signature
    assert not any(key.startswith("growth") for key in result.signature)


def test_a_gap_after_an_attempt_that_never_ended_is_unknown() -> None:
    rs = client(30, full_jitter(), attempts=2)
    hung = [dataclasses.replace(r, end=None, response=None, status=None, outcome="open")
            if i % 2 == 0 else r for i, r in enumerate(rs)]  # every first attempt
    result = retries(hung, bound=2)
    assert result.status is Status.INCONCLUSIVE
    assert result.signature["gaps_unknown"] == 30
    assert "30 gaps are unknown" in result.reasons[0]


def test_overlapping_and_back_to_back_attempts_have_gap_zero() -> None:
    # each next attempt starts exactly when (or before) the previous ended: a hedged
    # request, or the proxy seeing the old connection end after the new request
    same = [obs(10 + i, 10.05 + i, trace=f"{i:032x}") for i in range(12)]
    same += [obs(10.05 + i - 0.01 * (i % 2), 10.06 + i, trace=f"{i:032x}") for i in range(12)]
    result = retries(same)
    assert result.signature["gap_1_mean_ms"] == 0.0
    assert "retries immediately" in result.reasons[0]


def test_a_request_begun_before_the_fault_counts_all_its_attempts() -> None:
    rs = client(12, full_jitter(), attempts=5, start=9.5, every=0.01)
    early = [r for r in rs if r.start < FAULT.start]
    assert early and all(r.trace_id is not None for r in early)
    assert retries(rs).signature["max_attempts"] == 5


# --- circuit_breaker --------------------------------------------------------------------------

def load(t0: float, t1: float, rate: float, status: int) -> list[RequestObservation]:
    n = round((t1 - t0) * rate)
    return [obs(t0 + i / rate, t0 + i / rate + 0.001, status=status) for i in range(n)]


def breaker(during: list[RequestObservation], after: list[RequestObservation] | None = None,
            *, cool_down: float | None = 1.0, open_within: float = 2.0,
            before: Window | None = BEFORE, after_window: Window | None = AFTER
            ) -> OracleResult:
    requests = load(0, 10, 50, 200) + during + (load(20, 30, 50, 200) if after is None
                                                else after)
    return circuit_breaker(Evidence(requests, FAULT, before, after_window),
                           cool_down=cool_down, open_within=open_within)


def opened_after(failures: int, probe_every: float = 1.0) -> list[RequestObservation]:
    calls = load(10, 10 + failures / 50, 50, 503)
    t = calls[-1].end
    assert t is not None
    while (t := t + probe_every) < 20:
        calls.append(obs(t, t + 0.001, status=503))
    return calls


def test_a_breaker_that_opens_and_closes_again_is_verified_with_its_numbers() -> None:
    result = breaker(opened_after(5), load(20.4, 30, 50, 200))
    assert result.status is Status.VERIFIED, result.reasons
    sig = result.signature
    assert (sig["failures_before_open"], sig["probes"]) == (5, 9)
    assert sig["opened_after_s"] == pytest.approx(0.081, abs=1e-3)
    assert sig["probe_spacing_s"] == pytest.approx(1.0)
    assert sig["resumed_after_s"] == pytest.approx(0.4)
    assert sig["before_rate_per_s"] == 50.0
    assert "after 5 failures, then 9 probes" in result.summary


def test_no_breaker_is_broken_at_the_full_rate() -> None:
    result = breaker(load(10, 20, 50, 503))
    assert result.status is Status.BROKEN
    assert result.reasons[0].startswith("no breaker opened within 2 s: calls kept reaching the "
                                        "dependency at 49.9/s until the fault's end (100%")


def test_no_breaker_against_a_hanging_dependency_is_broken() -> None:
    hung = [obs(10 + i / 50, None, status=None) for i in range(500)]
    assert breaker(hung).status is Status.BROKEN


def test_a_breaker_that_never_closes_did_not_resume() -> None:
    result = breaker(opened_after(5, probe_every=100), [])
    assert result.status is Status.BROKEN
    assert result.reasons == ["did not resume: 0.0/s in the 10.0 s after the fault (before: "
                              "50.0/s)"]


def test_a_late_resume_is_broken_and_a_short_after_window_inconclusive() -> None:
    late = breaker(opened_after(5), load(25, 30, 50, 200))
    assert late.status is Status.BROKEN
    assert late.reasons[0].startswith("calls resumed only 5.00 s after the fault")
    short = breaker(opened_after(5), [], after_window=Window(20, 21))
    assert short.status is Status.INCONCLUSIVE and "only 1.00 s watched" in short.reasons[0]
    none = breaker(opened_after(5), after_window=None)
    assert none.status is Status.INCONCLUSIVE and "no window after" in none.reasons[0]


def test_an_unknown_cool_down_judges_probes_by_the_rate() -> None:
    assert breaker(opened_after(5, probe_every=0.25), load(20.2, 30, 50, 200),
                   cool_down=None).status is Status.VERIFIED
    # 4/s of probes is more than one per 1 s cool-down but less than a tenth of 50/s
    assert breaker(opened_after(5, probe_every=0.25), load(20.2, 30, 50, 200),
                   cool_down=1.0).status is Status.VERIFIED
    too_many = breaker(opened_after(5, probe_every=0.1), cool_down=None)
    assert too_many.status is Status.BROKEN


def test_a_breaker_without_load_or_fault_is_inconclusive() -> None:
    assert "no steady state" in breaker(opened_after(5), before=None).reasons[0]
    quiet = circuit_breaker(Evidence(load(0, 10, 1, 200) + opened_after(5), FAULT, BEFORE,
                                     AFTER), cool_down=1.0, open_within=2.0)
    assert quiet.status is Status.INCONCLUSIVE and "only 10 calls" in quiet.reasons[0]
    healthy = breaker(load(10, 20, 50, 200))
    assert healthy.status is Status.INCONCLUSIVE and "not in force" in healthy.reasons[0]
    stopped = breaker([])
    assert "the load stopped" in stopped.reasons[0]
    no_time = breaker(load(10, 20, 50, 503), open_within=9.9)
    assert no_time.status is Status.INCONCLUSIVE and "too few calls" in no_time.reasons[0]


def test_the_breaker_opens_at_a_failure_seen_at_its_end() -> None:
    # five slow failures end at once at 10.5 s: the breaker opened then, not at 10 s
    slow = [obs(10 + i / 50, 10.5, status=503) for i in range(25)]
    result = breaker([*slow, obs(11.5, 11.501), obs(12.5, 12.501)], load(20.1, 30, 50, 200))
    assert result.status is Status.VERIFIED
    assert result.signature["opened_after_s"] == 0.5
    assert result.signature["failures_before_open"] == 25


# --- timeout ----------------------------------------------------------------------------------

def attempts(n: int, duration: float | None, outcome: str, every: float = 0.2,
             start: float = 10.0) -> list[RequestObservation]:
    return [obs(start + i * every, None if duration is None else start + i * every + duration,
                status=200 if outcome == "response" else None, outcome=outcome)
            for i in range(n)]


def test_a_caller_that_gives_up_in_time_is_verified() -> None:
    result = timeout(Evidence(attempts(40, 0.52, "closed"), FAULT), timeout=0.5)
    assert result.status is Status.VERIFIED
    sig = result.signature
    assert (sig["attempts"], sig["p50_s"], sig["p99_s"], sig["slack_s"]) == (40, 0.52, 0.52,
                                                                             0.25)
    assert sig["abandoned_share"] == 1.0


def test_a_caller_without_a_timeout_is_broken() -> None:
    result = timeout(Evidence(attempts(40, 3.0, "response", start=10, every=0.1), FAULT),
                     timeout=0.5)
    assert result.status is Status.BROKEN
    assert result.reasons == ["attempts waited 3.00 s (p50; p99 3.00 s), past the 0.5 s "
                              "timeout + 0.25 s slack: the caller has no timeout below 3.00 s"]


def test_attempts_open_at_the_fault_end_last_until_it() -> None:
    result = timeout(Evidence(attempts(40, None, "open", every=0.25), FAULT), timeout=0.5)
    assert result.status is Status.BROKEN
    assert result.signature["open_at_fault_end"] == 38  # the last two began too late
    assert result.signature["max_s"] == 10.0
    assert "38 were still waiting when the fault ended" in result.reasons[0]


def test_answers_before_the_timeout_do_not_exercise_it() -> None:
    result = timeout(Evidence(attempts(40, 0.2, "response"), FAULT), timeout=1.0)
    assert result.status is Status.INCONCLUSIVE
    assert "answered 100% of the attempts" in result.reasons[0]


def test_attempts_cut_short_by_the_fault_end_are_not_judged() -> None:
    late = attempts(30, None, "open", every=0.01, start=19.7)  # 0.3 s before the end at most
    result = timeout(Evidence(attempts(9, 0.5, "closed") + late, FAULT), timeout=0.5)
    assert result.status is Status.INCONCLUSIVE
    assert result.reasons == ["only 9 attempts started during the fault early enough to be "
                              "judged (10 are needed)"]


def test_the_slack_is_half_the_timeout_and_at_least_50ms() -> None:
    def judge(duration: float, timeout_s: float, slack: float | None = None) -> Status:
        ev = Evidence(attempts(20, duration, "closed"), FAULT)
        return timeout(ev, timeout=timeout_s, slack=slack).status

    assert judge(0.059, 0.01) is Status.VERIFIED
    assert judge(0.061, 0.01) is Status.BROKEN
    assert judge(0.061, 0.01, slack=0.06) is Status.VERIFIED
    assert judge(1.49, 1.0) is Status.VERIFIED
    assert judge(1.51, 1.0) is Status.BROKEN


def test_slow_attempts_break_the_timeout_past_one_percent() -> None:
    rs = [obs(10 + i / 32, 10 + i / 32 + (5.0 if i < 2 else 0.25), status=None,
              outcome="closed") for i in range(200)]
    result = timeout(Evidence(rs, FAULT), timeout=0.25)
    assert result.status is Status.VERIFIED
    assert (result.signature["max_s"], result.signature["p99_s"]) == (5.0, 0.297)
    rs[2] = dataclasses.replace(rs[2], end=rs[2].start + 5.0)
    assert timeout(Evidence(rs, FAULT), timeout=0.25).status is Status.BROKEN


# --- concurrency_limit ------------------------------------------------------------------------

def test_back_to_back_requests_are_one_in_flight() -> None:
    rs = [obs(10 + i * 0.1, 10 + (i + 1) * 0.1, status=200) for i in range(50)]
    result = concurrency_limit(Evidence(rs, FAULT), limit=1)
    assert result.status is Status.VERIFIED
    assert (result.signature["max_in_flight"], result.signature["limit_tested"]) == (1, 1)


def test_too_many_in_flight_is_broken() -> None:
    rs = [obs(10 + i * 0.01, 12 + i * 0.01, status=200) for i in range(30)]
    result = concurrency_limit(Evidence(rs, FAULT), limit=10)
    assert result.status is Status.BROKEN
    assert result.reasons[0].startswith("up to 30 requests were in flight at once")


def test_open_requests_and_those_begun_before_the_fault_are_in_flight() -> None:
    rs = [obs(9.0, None, status=None), obs(9.5, 15.5, status=200), obs(15, None, status=None)]
    assert concurrency_limit(Evidence(rs, FAULT), limit=2).signature["max_in_flight"] == 3
    # ended before the fault, or zero-length: never in flight during it
    rs = [obs(5, 9.99, status=200), obs(12, 12, status=200), obs(13, 14, status=200)]
    assert concurrency_limit(Evidence(rs, FAULT), limit=1).signature["max_in_flight"] == 1
    assert concurrency_limit(Evidence([], FAULT), limit=1).status is Status.INCONCLUSIVE


def test_an_abandoned_request_frees_its_slot_when_the_caller_did() -> None:
    # the caller gave up at 11.0 and sent the next request at once; the proxy saw the
    # old connection end 5 ms after the new request's head
    rs = [obs(10.0, 11.005, status=None, outcome="closed"), obs(11.001, 12.0, status=200)]
    assert concurrency_limit(Evidence(rs, FAULT), limit=1).status is Status.VERIFIED
    rs[0] = dataclasses.replace(rs[0], outcome="response", status=200, response=11.005)
    assert concurrency_limit(Evidence(rs, FAULT), limit=1).status is Status.BROKEN


def test_the_demand_says_whether_the_bound_was_tested() -> None:
    before = load(0, 10, 50, 200)
    # one in flight at a time, each held 0.25 s, while the load came at 50/s
    bounded = [obs(10 + i / 4, 10 + (i + 1) / 4, status=200) for i in range(40)]
    tested = concurrency_limit(Evidence(before + bounded, FAULT, BEFORE), limit=2)
    assert tested.status is Status.VERIFIED
    assert (tested.signature["demand_in_flight"], tested.signature["limit_tested"]) == (12.5, 1)
    assert "the load would have kept 12.5 in flight (50.0/s x 0.25 s held)" in tested.summary
    idle = concurrency_limit(Evidence(before + bounded, FAULT, BEFORE), limit=20)
    assert idle.status is Status.VERIFIED and idle.signature["limit_tested"] == 0
    assert "never got near the limit (at most 1 of 20" in idle.summary


# --- properties -------------------------------------------------------------------------------

# times are multiples of 1/64 s, so a shift by whole seconds is exact
ticks = st.integers(0, 30 * 64).map(lambda t: t / 64)


def _request(conn: int, start: float, duration: int | None, status: int, outcome: str,
             trace: int | None) -> RequestObservation:
    end = None if duration is None else start + duration / 64
    outcome = "open" if end is None else outcome
    response = end if outcome in ("response", "injected") else None
    return RequestObservation("dep", conn, 0, "GET", "/",
                              None if trace is None else f"{trace:032x}", None, start,
                              response, status if response is not None else None, end, outcome)


def _fields(start: st.SearchStrategy[float]) -> st.SearchStrategy[tuple[Any, ...]]:
    return st.tuples(start, st.none() | st.integers(0, 3 * 64), st.sampled_from([200, 503]),
                     st.sampled_from(["response", "closed", "injected"]),
                     st.none() | st.integers(0, 6))


def observations(*, dense: bool = False) -> st.SearchStrategy[list[RequestObservation]]:
    """Up to 40 requests, one a connection, 7 trace ids or none, open or ended; ``dense``:
    at least 10, most starting during the fault."""
    start = st.integers(9 * 64, 21 * 64).map(lambda t: t / 64) if dense else ticks
    return st.lists(_fields(start), min_size=10 if dense else 0, max_size=40).map(
        lambda rows: [_request(i + 1, *row) for i, row in enumerate(rows)])


JUDGES: dict[str, Callable[[Evidence], OracleResult]] = {
    "bounded_retries": lambda ev: bounded_retries(ev, max_attempts=3),
    "circuit_breaker": lambda ev: circuit_breaker(ev, cool_down=1.0, open_within=2.0),
    "timeout": lambda ev: timeout(ev, timeout=0.5),
    "concurrency_limit": lambda ev: concurrency_limit(ev, limit=3),
}


def evidence(requests: Sequence[RequestObservation], shift: float = 0.0) -> Evidence:
    def moved(w: Window) -> Window:
        return Window(w.start + shift, w.end + shift)

    return Evidence(requests, moved(FAULT), moved(BEFORE), moved(AFTER))


def shifted(r: RequestObservation, by: float) -> RequestObservation:
    def move(t: float | None) -> float | None:
        return None if t is None else t + by

    return dataclasses.replace(r, start=r.start + by, response=move(r.response), end=move(r.end))


@settings(max_examples=300, deadline=None)
@given(observations(), st.randoms(use_true_random=False), st.integers(-1000, 1000))
def test_order_and_a_time_shift_change_no_verdict(requests: list[RequestObservation],
                                                  rng: random.Random, by: int) -> None:
    shuffled = rng.sample(requests, len(requests))
    moved = [shifted(r, by) for r in requests]
    for name, judge in JUDGES.items():
        result = judge(evidence(requests))
        assert result.oracle == name
        assert judge(evidence(shuffled)) == result, name
        assert judge(evidence(moved, by)) == result, name


@settings(max_examples=300, deadline=None)
@given(observations(dense=True), st.integers(0, 6), st.lists(ticks, min_size=1, max_size=5))
def test_more_attempts_never_turn_broken_retries_verified(
        requests: list[RequestObservation], which: int, extra: list[float]) -> None:
    """Adding attempts to a request over the bound keeps it broken; pushing one over the
    bound breaks any verdict."""
    trace = f"{which:032x}"
    more = requests + [obs(t, t + 0.01, trace=trace) for t in extra]
    before = bounded_retries(evidence(requests), max_attempts=3)
    after = bounded_retries(evidence(more), max_attempts=3)
    if before.status is Status.BROKEN and before.signature.get("over_bound_requests", 0):
        assert after.status is Status.BROKEN
    during = [r for r in more if r.trace_id == trace and r.start in FAULT]
    if during and sum(r.trace_id == trace for r in more) > 3:
        assert after.status is Status.BROKEN
        assert any("not bounded" in reason for reason in after.reasons)


@settings(max_examples=300, deadline=None)
@given(observations())
def test_without_trace_ids_retries_are_never_judged(requests: list[RequestObservation]) -> None:
    untraced = [dataclasses.replace(r, trace_id=None) for r in requests]
    assert bounded_retries(evidence(untraced), max_attempts=3).status is Status.INCONCLUSIVE


@settings(max_examples=300, deadline=None)
@given(observations(dense=True), st.data())
def test_longer_attempts_never_turn_a_broken_timeout_verified(
        requests: list[RequestObservation], data: st.DataObject) -> None:
    before = timeout(evidence(requests), timeout=0.5)
    longer = [dataclasses.replace(r, end=r.end + data.draw(ticks, label="longer"))
              if r.end is not None else r for r in requests]
    if before.status is Status.BROKEN:
        assert timeout(evidence(longer), timeout=0.5).status is not Status.VERIFIED


@settings(max_examples=300, deadline=None)
@given(observations(dense=True), observations())
def test_more_requests_never_turn_a_broken_limit_verified(
        requests: list[RequestObservation], extra: list[RequestObservation]) -> None:
    if concurrency_limit(evidence(requests), limit=3).status is Status.BROKEN:
        assert concurrency_limit(evidence(requests + extra), limit=3).status is Status.BROKEN


failing_calls = st.lists(st.tuples(st.integers(10 * 64, 20 * 64 - 1),
                                   st.none() | st.integers(0, 64)), max_size=300)


@settings(max_examples=300, deadline=None)
@given(failing_calls, st.lists(st.integers(12 * 64 + 1, 20 * 64 - 1), max_size=40),
       observations())
def test_more_calls_while_the_breaker_should_be_open_never_verify_it(
        calls: list[tuple[int, int | None]], extra: list[int],
        after: list[RequestObservation]) -> None:
    def failing(start: int, duration: int | None) -> RequestObservation:
        return obs(start / 64, None if duration is None else (start + duration) / 64,
                   status=None if duration is None else 503)

    base = load(0, 10, 5, 200) + [failing(*call) for call in calls] + [
        r for r in after if r.start >= FAULT.end]
    judge = JUDGES["circuit_breaker"]
    if judge(evidence(base)).status is Status.BROKEN:
        more = base + [failing(t, 1) for t in extra]
        assert judge(evidence(more)).status is not Status.VERIFIED


# --- amplification ------------------------------------------------------------------------------

def _load(rate_before: float, rate_fault: float, *, fault_status: int = 503
          ) -> list[RequestObservation]:
    """Calls at a steady rate through BEFORE (answered 200) and FAULT (answered
    ``fault_status``), each lasting a millisecond."""
    out = [obs(BEFORE.start + i / rate_before, BEFORE.start + i / rate_before + 0.001,
               status=200) for i in range(round(rate_before * BEFORE.duration))]
    out += [obs(FAULT.start + i / rate_fault, FAULT.start + i / rate_fault + 0.001,
                status=fault_status) for i in range(round(rate_fault * FAULT.duration))]
    return out


def test_amplification_within_the_budget_is_verified_and_above_it_broken() -> None:
    within = amplification(Evidence(_load(50, 54), FAULT, BEFORE), max_ratio=1.1)
    assert within.status is Status.VERIFIED and within.signature["ratio"] == 1.08
    tripled = amplification(Evidence(_load(50, 150), FAULT, BEFORE), max_ratio=1.1)
    assert tripled.status is Status.BROKEN and tripled.signature["ratio"] == 3.0
    assert "no retry budget" in tripled.reasons[0]
    # a breaker sends fewer calls than the steady state: nothing is amplified
    assert amplification(Evidence(_load(50, 2), FAULT, BEFORE),
                         max_ratio=1.1).status is Status.VERIFIED


def test_amplification_needs_a_steady_state_and_a_failing_dependency() -> None:
    no_before = amplification(Evidence(_load(50, 150), FAULT), max_ratio=1.1)
    assert no_before.status is Status.INCONCLUSIVE
    healthy = amplification(Evidence(_load(50, 150, fault_status=200), FAULT, BEFORE),
                            max_ratio=1.1)
    assert healthy.status is Status.INCONCLUSIVE and "nothing asked" in healthy.summary
    with pytest.raises(ValueError, match="max_ratio is at least 1"):
        amplification(Evidence([], FAULT, BEFORE), max_ratio=0.5)
