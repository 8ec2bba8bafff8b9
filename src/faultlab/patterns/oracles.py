"""The behavioural oracles of the patterns library: what reached a dependency, judged.

An oracle reads the requests the fault proxy recorded at one dependency
(:class:`~faultlab.proxy.observe.RequestObservation`) around a fault, and says whether a
pattern worked: **verified**, **broken** (with the measured evidence) or **inconclusive**
(the evidence cannot decide, with the counts that were missing). Oracles watch behaviour,
not configuration: a caller that says it retries with backoff but hammers the dependency
is broken whatever its settings claim.

The module is pure: numbers in, verdict out, no I/O and no clock. Oracles are registered
by name in :data:`ORACLES` (the :func:`oracle` decorator); each takes an :class:`Evidence`
and keyword parameters, and returns an :class:`OracleResult` whose ``signature`` holds the
measured numbers, each key carrying its unit.

Invariants every oracle keeps:

* BROKEN needs positive evidence of the misbehaviour; too little evidence is INCONCLUSIVE,
  never VERIFIED nor BROKEN by default.
* A result depends on the requests as a set: their order in the list, and a shift of every
  time by the same amount, change nothing.
* Thresholds are module constants, each with the reason for its value. They are chosen so
  that a verdict holds on a loaded machine, where a caller's timers fire late by tens of
  milliseconds and every measured gap or duration grows by that much.
* Expected outcomes are verdicts; a ValueError is for bad parameters or windows.
"""

from __future__ import annotations

import bisect
import enum
import itertools
import math
import statistics
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from faultlab.proxy.observe import RequestObservation

__all__ = ["ORACLES", "Evidence", "Oracle", "OracleResult", "Status", "Window",
           "amplification", "bounded_retries", "circuit_breaker", "concurrency_limit",
           "oracle", "run_oracle", "timeout"]

# --- bounded_retries --------------------------------------------------------------------------
#: retried requests needed before the backoff is judged: below ten, one slow or lucky request
#: moves a median or a spread by more than the difference between a good and a bad client
MIN_RETRIED = 10
#: samples of gap_k and gap_k+1 needed to judge their growth: a ratio of two means of full
#: jitter (each a uniform draw) varies by ~13% at 20 samples, well inside 2 against 1.25
MIN_GROWTH_SAMPLES = 20
#: a median gap below this is an immediate retry: it is a client's own turnaround from a
#: failed answer to its next request (~0.3 ms on loopback, with a CPU hog on every core too)
IMMEDIATE_GAP_S = 0.001
#: below this, gaps all alike (dispersion under JITTER_MIN_DISPERSION) are that turnaround
#: slowed by a busy machine, not a backoff: so short a wait counts only when it is jittered
#: (the demo's full jitter under 5 ms, which spreads concurrent retries, does)
SHORT_GAP_S = 0.010
#: the first judged gap pair must grow at least this much: exponential backoff doubles
#: (full jitter keeps the ratio of the means at 2), a fixed delay stays at 1.0, and the
#: scheduler's delay, added to every gap alike, pulls a true ratio of 2 toward 1, not to 1.25
GROWTH_MIN_RATIO = 1.25
#: ... and by at least this many seconds: ratios of sub-millisecond gaps are noise
GROWTH_MIN_S = 0.001
#: later pairs may plateau (a capped backoff holds them level) but not shrink below this:
#: two means of full jitter at the same cap differ by chance by up to ~40% at 20 samples
PLATEAU_MIN_RATIO = 0.5
#: the least spread of gap_k for jitter, as the quartile dispersion (Q3 - Q1) / (Q3 + Q1):
#: full jitter gives 0.5, equal jitter 0.17, a fixed delay ~0.01. Unlike the coefficient
#: of variation (reported too), one gap stretched by a stalled scheduler does not move it
JITTER_MIN_DISPERSION = 0.1
#: gaps listed in a signature, at most (an unbounded client can make hundreds)
SIGNATURE_GAPS = 6

# --- circuit_breaker --------------------------------------------------------------------------
#: calls before the fault needed to know the load's rate
MIN_BEFORE_CALLS = 20
#: calls the load would send after ``open_within`` without a breaker, needed to tell one
#: from none
MIN_EXPECTED_OPEN_CALLS = 20
#: the share of calls during the fault that must fail: a breaker opens on failures only, so
#: with fewer the fault was not in force and no verdict on the breaker can be drawn
FAULT_FAILED_MIN = 0.9
#: an open breaker lets through at most this share of the load: one that passes more than
#: a tenth of the traffic to a dead dependency does not protect it (none passes ~100%)
PROBE_FRACTION = 0.1
#: or, when the cool-down is known, about one probe per cool-down (plus the first)
PROBES_PER_COOL_DOWN = 1.0
#: calls have resumed once a window holds this share of the before rate
RESUME_FRACTION = 0.5
#: that window: half a second, or long enough to hold this many calls at the before rate
RESUME_WINDOW_S = 0.5
RESUME_MIN_CALLS = 10
#: resuming may take the cool-down plus this: the half-open probe and its answer, and a
#: loaded machine's late timers
RESUME_MARGIN_S = 1.0

# --- timeout ----------------------------------------------------------------------------------
#: attempts needed to judge a p99 (below ten it is the maximum of a handful)
MIN_TIMEOUT_ATTEMPTS = 10
#: the default slack over the timeout: max(50 ms, half the timeout), generous because a busy
#: machine fires the caller's timer late and the proxy sees its close later still
MIN_SLACK_S = 0.050
SLACK_SHARE = 0.5
#: the share of attempts the caller must have abandoned (outcome closed) for the timeout to
#: have been exercised; when the dependency answered most of them, the hold was shorter
#: than the timeout
MIN_ABANDONED_SHARE = 0.5

# --- concurrency_limit ------------------------------------------------------------------------
#: a request the caller abandoned ends at the proxy when the connection's FIN arrives, after
#: the caller freed its slot: the next request's head can reach the proxy first. Its end is
#: taken this much earlier, far less than any hold that fills a bulkhead
CLOSE_LAG_S = 0.020


# --- amplification ----------------------------------------------------------------------------
#: how far the rate at the dependency may exceed the bound: an open-loop load's count in a
#: window varies by a call or two, a few percent of the rate at tens of calls per second
AMPLIFICATION_MARGIN = 0.1
#: the share of calls during the fault that must fail: with fewer, nothing asked for retries
AMPLIFICATION_FAILED_MIN = 0.5


# --- the model --------------------------------------------------------------------------------

@dataclass(frozen=True)
class Window:
    """[start, end) in the observations' clock (seconds)."""

    start: float
    end: float

    def __post_init__(self) -> None:
        if not (math.isfinite(self.start) and math.isfinite(self.end)):
            raise ValueError(f"a window needs finite times, not {self.start}..{self.end}")
        if self.end < self.start:
            raise ValueError(f"a window ends after it starts: {self.start}..{self.end}")

    @property
    def duration(self) -> float:
        return self.end - self.start

    def __contains__(self, t: float) -> bool:
        return self.start <= t < self.end


@dataclass(frozen=True)
class Evidence:
    """The requests observed at one dependency (one proxy), and the phases' windows."""

    requests: Sequence[RequestObservation]
    fault: Window  # when the fault was in force
    before: Window | None = None  # steady state before it
    after: Window | None = None  # recovery after it

    def __post_init__(self) -> None:
        proxies = {r.proxy for r in self.requests}
        if len(proxies) > 1:
            raise ValueError(f"evidence comes from one proxy, not {sorted(proxies)}")

    def started_in(self, window: Window) -> list[RequestObservation]:
        """The requests that started in ``window``, by start."""
        return sorted((r for r in self.requests if r.start in window), key=_order)


class Status(enum.StrEnum):
    VERIFIED = "verified"
    BROKEN = "broken"
    INCONCLUSIVE = "inconclusive"


Signature = dict[str, float | int | str]


@dataclass(frozen=True)
class OracleResult:
    oracle: str
    status: Status
    summary: str  # one line an SRE reads, with the measured numbers
    signature: Signature  # the measured numbers; keys carry units
    reasons: list[str] = field(default_factory=list)  # why broken or inconclusive

    def to_json(self) -> dict[str, Any]:
        return {"oracle": self.oracle, "status": self.status.value, "summary": self.summary,
                "signature": dict(self.signature), "reasons": list(self.reasons)}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> OracleResult:
        """The result :meth:`to_json` wrote; ValueError naming what is wrong otherwise."""
        keys = {"oracle", "status", "summary", "signature", "reasons"}
        if not isinstance(data, Mapping) or set(data) != keys:
            got = sorted(data) if isinstance(data, Mapping) else type(data).__name__
            raise ValueError(f"an oracle result has the keys {sorted(keys)}, not {got}")
        oracle, summary, signature, reasons = (data["oracle"], data["summary"],
                                               data["signature"], data["reasons"])
        if not isinstance(oracle, str) or not isinstance(summary, str):
            raise ValueError("an oracle result's oracle and summary are strings")
        try:
            status = Status(data["status"])
        except ValueError:
            raise ValueError(f"unknown oracle status {data['status']!r}") from None
        if not isinstance(signature, Mapping) or not all(
                isinstance(k, str) and isinstance(v, int | float | str)
                and not isinstance(v, bool) for k, v in signature.items()):
            raise ValueError("an oracle result's signature maps names to numbers or strings")
        if not isinstance(reasons, list) or not all(isinstance(r, str) for r in reasons):
            raise ValueError("an oracle result's reasons are a list of strings")
        return cls(oracle, status, summary, dict(signature), list(reasons))


Oracle = Callable[..., OracleResult]
ORACLES: dict[str, Oracle] = {}
_F = TypeVar("_F", bound=Oracle)


def oracle(fn: _F) -> _F:
    """Register an oracle under its function's name (the name its results carry)."""
    if fn.__name__ in ORACLES:
        raise ValueError(f"oracle {fn.__name__!r} is registered already")
    ORACLES[fn.__name__] = fn
    return fn


def run_oracle(name: str, evidence: Evidence, **params: Any) -> OracleResult:
    """The registered oracle ``name`` on ``evidence``; ValueError for an unknown name."""
    fn = ORACLES.get(name)
    if fn is None:
        raise ValueError(f"unknown oracle {name!r}; known: {', '.join(sorted(ORACLES))}")
    return fn(evidence, **params)


# --- helpers ----------------------------------------------------------------------------------

def _order(r: RequestObservation) -> tuple[float, int, int]:
    return (r.start, r.conn, r.seq)


def _failed(r: RequestObservation) -> bool:
    """No good answer: a 5xx, an answer a toxic injected, or none at all."""
    return r.outcome != "response" or r.status is None or r.status >= 500


def _quantile(values: Sequence[float], q: float) -> float:
    """Linear interpolation between the closest ranks (numpy's default)."""
    ordered = sorted(values)
    position = q * (len(ordered) - 1)
    low = math.floor(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def _dispersion(values: Sequence[float]) -> float:
    q1, q3 = _quantile(values, 0.25), _quantile(values, 0.75)
    return 0.0 if q1 + q3 <= 0 else (q3 - q1) / (q3 + q1)


def _cv(values: Sequence[float]) -> float:
    mean = statistics.fmean(values)
    return 0.0 if mean <= 0 else statistics.pstdev(values) / mean


def _ms(seconds: float) -> float:
    return round(seconds * 1000, 1)


def _r(x: float, digits: int = 3) -> float:
    return round(x, digits)


def _result(name: str, status: Status, summary: str, signature: Signature,
            reasons: Sequence[str] = ()) -> OracleResult:
    return OracleResult(name, status, summary, signature, list(reasons))


def _inconclusive(name: str, reason: str, signature: Signature) -> OracleResult:
    return _result(name, Status.INCONCLUSIVE, f"inconclusive: {reason}", signature, [reason])


# --- bounded_retries --------------------------------------------------------------------------

NO_TRACE = ("the caller does not propagate traceparent, so attempts cannot be grouped per "
            "request")


@oracle
def bounded_retries(ev: Evidence, *, max_attempts: int) -> OracleResult:
    """Attempts per client request stay within ``max_attempts``, and the retries back off
    (the gaps grow) with jitter (the gaps spread).

    A client request is a W3C trace id: the requests that share one are its attempts (all of
    them in the evidence, for every trace with an attempt started during the fault). gap_k
    runs from the end of attempt k (its response, or when it stopped waiting) to the start
    of attempt k+1; it is unknown when attempt k never ended at the proxy (left out, and
    counted), and 0 when the attempts overlap. A bound exceeded is BROKEN on any evidence;
    the backoff is judged only on :data:`MIN_RETRIED` retried requests or more.
    """
    name = "bounded_retries"
    if max_attempts < 1:
        raise ValueError(f"max_attempts is at least 1, not {max_attempts}")
    during = ev.started_in(ev.fault)
    traces = {r.trace_id for r in during if r.trace_id is not None}
    sig: Signature = {"requests": len(traces), "untraced_attempts":
                      sum(1 for r in during if r.trace_id is None),
                      "attempts_bound": max_attempts}
    if not during:
        return _inconclusive(name, "no request reached the dependency during the fault", sig)
    if not traces:
        return _inconclusive(name, NO_TRACE, sig)
    by_trace: dict[str, list[RequestObservation]] = {}
    for r in sorted(ev.requests, key=_order):
        if r.trace_id in traces:
            by_trace.setdefault(r.trace_id, []).append(r)
    counts = [len(attempts) for attempts in by_trace.values()]
    retried = [attempts for attempts in by_trace.values() if len(attempts) > 1]
    over = [c for c in counts if c > max_attempts]
    gaps: list[list[float]] = []  # gaps[k - 1]: the samples of gap_k
    unknown = 0
    for attempts in retried:
        for k, (this, following) in enumerate(itertools.pairwise(attempts)):
            if len(gaps) <= k:
                gaps.append([])
            if this.end is None:
                unknown += 1
            else:
                gaps[k].append(max(0.0, following.start - this.end))
    sig |= {"retried_requests": len(retried), "max_attempts": max(counts),
            "mean_attempts": _r(statistics.fmean(counts)), "over_bound_requests": len(over),
            "gaps_unknown": unknown}
    for k, samples in enumerate(gaps[:SIGNATURE_GAPS], start=1):
        if len(samples) >= 2:
            sig |= {f"gap_{k}_count": len(samples),
                    f"gap_{k}_mean_ms": _ms(statistics.fmean(samples)),
                    f"gap_{k}_median_ms": _ms(statistics.median(samples)),
                    f"gap_{k}_cv": _r(_cv(samples)),
                    f"gap_{k}_dispersion": _r(_dispersion(samples))}
    facts = (f"{len(traces)} requests, at most {max(counts)} attempts (bound {max_attempts}), "
             f"{len(retried)} retried")
    reasons: list[str] = []
    if over:
        reasons.append(f"{len(over)} of {len(traces)} requests made more than {max_attempts} "
                       f"attempts (up to {max(over)}): the retries are not bounded")
    judged = [k for k, samples in enumerate(gaps) if len(samples) >= MIN_RETRIED]
    if len(retried) < MIN_RETRIED or not judged:
        if reasons:
            return _result(name, Status.BROKEN, f"retries broken: {reasons[0]}; {facts}", sig,
                           reasons)
        if max_attempts == 1 and not retried and len(traces) >= MIN_RETRIED:
            return _result(name, Status.VERIFIED, f"no request was retried, as the bound of 1 "
                           f"says; {facts}", sig)
        why = (f"only {len(retried)} of {len(traces)} requests were retried ({MIN_RETRIED} are "
               "needed to judge the backoff)" if len(retried) < MIN_RETRIED else
               f"{unknown} gaps are unknown (the attempts before them never ended at the "
               "proxy): too few to judge the backoff")
        return _inconclusive(name, why, sig)
    means = [statistics.fmean(g) for g in gaps if g]
    facts += "; mean gaps " + "/".join(f"{_ms(m):g}" for m in means[:SIGNATURE_GAPS]) + " ms"
    reasons += _backoff_reasons(gaps, judged, sig)
    if reasons:
        return _result(name, Status.BROKEN, f"retries broken: {reasons[0]}; {facts}", sig,
                       reasons)
    return _result(name, Status.VERIFIED, f"bounded retries with backoff and jitter: {facts}",
                   sig)


def _backoff_reasons(gaps: list[list[float]], judged: list[int], sig: Signature) -> list[str]:
    """Why the gaps are not a jittered backoff: immediate, not growing, shrinking, in step."""
    median = max(statistics.median(gaps[k]) for k in judged)
    spread = max(_dispersion(gaps[k]) for k in judged)
    if median < IMMEDIATE_GAP_S:
        return [f"the caller retries immediately: the median gap after a failed attempt is "
                f"{_ms(median):g} ms, its own turnaround"]
    if median < SHORT_GAP_S and spread < JITTER_MIN_DISPERSION:
        return [f"the caller retries immediately: the median gap after a failed attempt is "
                f"{_ms(median):g} ms, all alike (dispersion {spread:.3f}): no backoff, no "
                "jitter"]
    reasons = []
    pairs = [k for k in judged if k + 1 < len(gaps) and len(gaps[k + 1]) >= MIN_GROWTH_SAMPLES
             and len(gaps[k]) >= MIN_GROWTH_SAMPLES]
    for k in pairs:
        low, high = statistics.fmean(gaps[k]), statistics.fmean(gaps[k + 1])
        ratio = high / low if low > 0 else math.inf
        if math.isfinite(ratio) and k + 1 <= SIGNATURE_GAPS:
            sig[f"growth_{k + 2}_over_{k + 1}"] = _r(ratio)
        said = (f"gap_{k + 1} {_ms(low):g} ms, gap_{k + 2} {_ms(high):g} ms "
                f"(x{ratio:.2f})")
        if k == pairs[0] and (ratio < GROWTH_MIN_RATIO or high - low < GROWTH_MIN_S):
            reasons.append(f"the gaps do not grow (no backoff): {said}; a backoff grows "
                           f"them x{GROWTH_MIN_RATIO:g} or more")
        elif k != pairs[0] and ratio < PLATEAU_MIN_RATIO:
            reasons.append(f"the gaps shrink: {said}")
    worst = min(judged, key=lambda k: _dispersion(gaps[k]))
    spread = _dispersion(gaps[worst])
    if spread < JITTER_MIN_DISPERSION:
        reasons.append(f"no jitter: gap_{worst + 1} has a dispersion of {spread:.3f} (quartiles;"
                       f" jitter needs {JITTER_MIN_DISPERSION:g}, full jitter gives 0.5): the "
                       "callers' retries stay in step")
    return reasons


# --- circuit_breaker --------------------------------------------------------------------------

@oracle
def circuit_breaker(ev: Evidence, *, cool_down: float | None,
                    open_within: float) -> OracleResult:
    """During the fault every call fails; the breaker must open within ``open_within`` of
    its start (from then to its end only probes reach the dependency: at most
    :data:`PROBE_FRACTION` of the before rate, or about one per ``cool_down``), and calls
    must resume after it (a window at :data:`RESUME_FRACTION` of the before rate within
    ``cool_down`` + :data:`RESUME_MARGIN_S` of its end).

    The opening is a failure's end at the proxy, up to ``fault.start + open_within``, after
    which only probes came; of those, the one that ends the burst of failures (see the
    change point below). The load must be open-loop:
    a closed-loop caller blocked by a hanging dependency sends less for want of free
    workers, which looks like an open breaker.
    """
    name = "circuit_breaker"
    if cool_down is not None and cool_down <= 0:
        raise ValueError(f"cool_down is positive or None, not {cool_down}")
    if open_within < 0:
        raise ValueError(f"open_within is not negative, not {open_within}")
    sig: Signature = {}
    if ev.before is None or ev.before.duration <= 0:
        return _inconclusive(name, "no steady state before the fault: the rate to compare "
                             "with is unknown", sig)
    before = ev.started_in(ev.before)
    rate = len(before) / ev.before.duration
    sig["before_rate_per_s"] = _r(rate, 2)
    if len(before) < MIN_BEFORE_CALLS:
        return _inconclusive(name, f"only {len(before)} calls reached the dependency in the "
                             f"{ev.before.duration:g} s before the fault ({MIN_BEFORE_CALLS} "
                             "are needed): no load to compare with", sig)
    fault = ev.fault
    during = ev.started_in(fault)
    sig["fault_rate_per_s"] = _r(len(during) / fault.duration, 2) if fault.duration else 0
    if not during:
        return _inconclusive(name, "no call reached the dependency during the fault: the "
                             "load stopped", sig)
    share = sum(map(_failed, during)) / len(during)
    sig["failed_share"] = _r(share)
    if share < FAULT_FAILED_MIN:
        return _inconclusive(name, f"only {share:.0%} of the calls during the fault failed: "
                             "the fault was not in force, no breaker had to open", sig)
    deadline = min(fault.start + open_within, fault.end)
    if rate * (fault.end - deadline) < MIN_EXPECTED_OPEN_CALLS:
        return _inconclusive(name, f"the fault leaves {fault.end - deadline:.2f} s after "
                             f"open_within ({open_within:g} s): at {rate:.1f}/s too few calls "
                             "to tell a breaker from none", sig)

    def allowed(span: float) -> float:
        by_cool = 0.0 if cool_down is None else PROBES_PER_COOL_DOWN * (span / cool_down + 1)
        return max(PROBE_FRACTION * rate * span, by_cool)

    # The opening is a change point: calls came at the full rate, then at the probes' rate
    # at most. Scoring each moment by calls so far minus the probes' allowance so far, the
    # condition "only probes after t" is the score at t reaching the score at the fault's
    # end; its highest-scoring moment is the end of the burst of failures.
    probe_rate = max(PROBE_FRACTION * rate,
                     0.0 if cool_down is None else PROBES_PER_COOL_DOWN / cool_down)
    starts = [r.start for r in during]
    moments = sorted(max(r.start, r.end if r.end is not None else r.start) for r in during)
    opened: float | None = None
    best = -math.inf
    for t in moments:
        if t > deadline:
            break
        before_t = bisect.bisect_right(starts, t)
        score = before_t - probe_rate * t
        if len(starts) - before_t <= allowed(fault.end - t) and score > best:
            opened, best = t, score
    if opened is None:
        late = len(starts) - bisect.bisect_right(starts, deadline)
        late_rate = late / (fault.end - deadline)
        sig["rate_after_open_within_per_s"] = _r(late_rate, 2)
        reason = (f"no breaker opened within {open_within:g} s: calls kept reaching the "
                  f"dependency at {late_rate:.1f}/s until the fault's end ({late_rate / rate:.0%}"
                  f" of the {rate:.1f}/s before; an open breaker lets through "
                  f"{allowed(fault.end - deadline) / (fault.end - deadline):.1f}/s at most)")
        return _result(name, Status.BROKEN, f"breaker broken: {reason}", sig, [reason])
    probes = starts[bisect.bisect_right(starts, opened):]
    span = fault.end - opened
    sig |= {"failures_before_open": len(starts) - len(probes),
            "opened_after_s": _r(opened - fault.start), "probes": len(probes),
            "probe_rate_per_s": _r(len(probes) / span, 2) if span > 0 else 0}
    if len(probes) >= 2:
        sig["probe_spacing_s"] = _r(statistics.median(
            b - a for a, b in itertools.pairwise(probes)))
    facts = (f"opened {opened - fault.start:.2f} s into the fault after "
             f"{len(starts) - len(probes)} failures, then {len(probes)} probes in {span:.1f} s "
             f"(before: {rate:.1f}/s)")
    return _resumed(ev, name, rate, cool_down, sig, facts)


def _resumed(ev: Evidence, name: str, rate: float, cool_down: float | None, sig: Signature,
             facts: str) -> OracleResult:
    """The after part of :func:`circuit_breaker`: did calls come back at half the rate?"""
    if ev.after is None:
        return _inconclusive(name, f"no window after the fault: whether calls resume is "
                             f"unknown ({facts})", sig)
    end, after = ev.fault.end, ev.after
    width = max(RESUME_WINDOW_S, RESUME_MIN_CALLS / rate)
    need = RESUME_FRACTION * rate * width
    starts = [r.start for r in ev.started_in(after) if r.start >= end]
    resumed = next((t for i, t in enumerate(starts) if t + width <= after.end
                    and bisect.bisect_left(starts, t + width) - i >= need), None)
    limit = None if cool_down is None else cool_down + RESUME_MARGIN_S
    watched = after.end - end
    after_rate = len(starts) / watched if watched > 0 else 0.0
    sig["after_rate_per_s"] = _r(after_rate, 2)
    if resumed is not None:
        late = resumed - end
        sig["resumed_after_s"] = _r(late)
        if limit is not None and late > limit:
            reason = (f"calls resumed only {late:.2f} s after the fault (the cool-down "
                      f"{cool_down:g} s + {RESUME_MARGIN_S:g} s margin)")
            return _result(name, Status.BROKEN, f"breaker broken: {reason}; {facts}", sig,
                           [reason])
        return _result(name, Status.VERIFIED, f"breaker worked: {facts}; calls resumed "
                       f"{late:.2f} s after the fault", sig)
    if limit is not None and watched < limit + width:
        return _inconclusive(name, f"only {watched:.2f} s watched after the fault, less than "
                             f"the cool-down + margin + {width:g} s window; calls had not "
                             f"resumed ({facts})", sig)
    reason = (f"did not resume: {after_rate:.1f}/s in the {watched:.1f} s after the "
              f"fault (before: {rate:.1f}/s)" + ("" if cool_down is not None else
                                                 "; the cool-down is unknown"))
    return _result(name, Status.BROKEN, f"breaker broken: {reason}; {facts}", sig, [reason])


# --- timeout ----------------------------------------------------------------------------------

@oracle
def timeout(ev: Evidence, *, timeout: float, slack: float | None = None) -> OracleResult:
    """The dependency holds its answers during the fault; the caller must give up within
    ``timeout`` + ``slack`` (p99 of the attempts' durations, end - start).

    Judged are the attempts that started during the fault and either ended in it or
    started ``timeout + slack`` before its end (the others were cut short by its end); one
    still open counts as lasting to the fault's end. Attempts the dependency answered do
    not exercise the timeout: unless the caller abandoned :data:`MIN_ABANDONED_SHARE` of
    them, a p99 within the bound is INCONCLUSIVE. The fault must hold answers, not cut
    connections: a toxic's hang-up also ends an attempt as closed.
    """
    name = "timeout"
    if timeout <= 0:
        raise ValueError(f"timeout is positive, not {timeout}")
    if slack is None:
        slack = max(MIN_SLACK_S, SLACK_SHARE * timeout)
    elif slack < 0:
        raise ValueError(f"slack is not negative, not {slack}")
    limit = timeout + slack
    fault = ev.fault
    judged = [r for r in ev.started_in(fault) if r.start <= fault.end - limit
              or (r.end is not None and r.end <= fault.end)]
    sig: Signature = {"attempts": len(judged), "timeout_s": _r(timeout), "slack_s": _r(slack)}
    if len(judged) < MIN_TIMEOUT_ATTEMPTS:
        return _inconclusive(name, f"only {len(judged)} attempts started during the fault "
                             f"early enough to be judged ({MIN_TIMEOUT_ATTEMPTS} are needed)",
                             sig)
    durations = [(r.end if r.end is not None else fault.end) - r.start for r in judged]
    p50, p99, top = _quantile(durations, 0.5), _quantile(durations, 0.99), max(durations)
    still_open = sum(1 for r in judged if r.end is None)
    abandoned = sum(1 for r in judged if r.outcome == "closed") / len(judged)
    sig |= {"p50_s": _r(p50), "p99_s": _r(p99), "max_s": _r(top), "open_at_fault_end":
            still_open, "abandoned_share": _r(abandoned)}
    facts = (f"attempts lasted {p50:.3f} s (p50), {p99:.3f} s (p99), {top:.3f} s at most, "
             f"{abandoned:.0%} abandoned")
    if p99 > limit:
        reason = (f"attempts waited {p50:.2f} s (p50; p99 {p99:.2f} s), past the {timeout:g} s "
                  f"timeout + {slack:g} s slack: the caller has no timeout below "
                  f"{top:.2f} s" + (f"; {still_open} were still waiting when the fault ended"
                                    if still_open else ""))
        return _result(name, Status.BROKEN, f"timeout broken: {reason}", sig, [reason])
    if abandoned < MIN_ABANDONED_SHARE:
        return _inconclusive(name, f"the dependency answered {1 - abandoned:.0%} of the "
                             f"attempts, in {p99:.3f} s (p99): it did not hold them past the "
                             f"{timeout:g} s timeout, which was not exercised", sig)
    return _result(name, Status.VERIFIED, f"callers gave up in time ({timeout:g} s timeout + "
                   f"{slack:g} s slack): {facts}", sig)


# --- concurrency_limit ------------------------------------------------------------------------

@oracle
def concurrency_limit(ev: Evidence, *, limit: int) -> OracleResult:
    """At most ``limit`` requests in flight at once at the dependency during the fault.

    A request is in flight over [start, end), clipped to the fault window; one still open
    lasts to the fault's end, and one the caller abandoned ends :data:`CLOSE_LAG_S`
    earlier than the proxy saw it. At equal times an end counts before a start. With a
    before window, the demand (the before rate times the mean hold during the fault,
    Little's law) says whether the load would have exceeded the limit; a bound never
    tested is still VERIFIED, and the summary says so.
    """
    name = "concurrency_limit"
    if limit < 1:
        raise ValueError(f"limit is at least 1, not {limit}")
    fault = ev.fault
    events: list[tuple[float, int]] = []
    for r in ev.requests:
        end = r.end if r.end is not None else fault.end
        if r.outcome == "closed":
            end -= CLOSE_LAG_S
        start, end = max(r.start, fault.start), min(end, fault.end)
        if end > start:
            events += [(start, 1), (end, -1)]
    sig: Signature = {"limit": limit}
    if not events:
        return _inconclusive(name, "no request was in flight at the dependency during the "
                             "fault", sig)
    in_flight = peak = 0
    for _, step in sorted(events):  # (t, -1) sorts before (t, 1): an end frees its slot first
        in_flight += step
        peak = max(peak, in_flight)
    during = ev.started_in(fault)
    holds = [(r.end if r.end is not None else fault.end) - r.start for r in during]
    hold = statistics.fmean(holds) if holds else 0.0
    sig |= {"max_in_flight": peak, "mean_hold_s": _r(hold)}
    demand: float | None = None
    if ev.before is not None and ev.before.duration > 0 and holds:
        offered = len(ev.started_in(ev.before)) / ev.before.duration
        demand = offered * hold
        sig |= {"offered_rate_per_s": _r(offered, 2), "demand_in_flight": _r(demand, 1)}
    if peak > limit:
        reason = (f"up to {peak} requests were in flight at once at the dependency during the"
                  f" fault (limit {limit}): nothing bounds the caller's concurrency")
        return _result(name, Status.BROKEN, f"concurrency limit broken: {reason}", sig,
                       [reason])
    tested = peak >= limit if demand is None else demand > limit
    sig["limit_tested"] = int(tested)
    if demand is not None:
        load = f"the load would have kept {demand:.1f} in flight ({sig['offered_rate_per_s']}/s" \
               f" x {hold:.2f} s held)"
    else:
        load = f"the mean hold was {hold:.2f} s"
    if tested:
        summary = f"the bound held: at most {peak} in flight (limit {limit}) while {load}"
    else:
        summary = (f"the bound held but was not tested: in flight never got near the limit "
                   f"(at most {peak} of {limit}; {load})")
    return _result(name, Status.VERIFIED, summary, sig)


# --- amplification ----------------------------------------------------------------------------

@oracle
def amplification(ev: Evidence, *, max_ratio: float) -> OracleResult:
    """Calls reaching the dependency per second while it fails, against the steady state's:
    a retry budget keeps the ratio under ``max_ratio`` (1 + the budget); retries without one
    multiply it by the attempts (x3 for three). A breaker brings it below 1, which passes."""
    name = "amplification"
    if max_ratio < 1:
        raise ValueError(f"max_ratio is at least 1 (1 + a budget), not {max_ratio}")
    sig: Signature = {"max_ratio": _r(max_ratio)}
    if ev.before is None or ev.before.duration <= 0 or ev.fault.duration <= 0:
        return _inconclusive(name, "no steady state before the fault to compare with", sig)
    before, during = ev.started_in(ev.before), ev.started_in(ev.fault)
    sig["before_calls"], sig["fault_calls"] = len(before), len(during)
    if len(before) < MIN_BEFORE_CALLS:
        return _inconclusive(name, f"{len(before)} calls before the fault, fewer than "
                             f"{MIN_BEFORE_CALLS}: no steady rate to compare with", sig)
    failed = sum(1 for r in during if _failed(r))
    if not during or failed / len(during) < AMPLIFICATION_FAILED_MIN:
        return _inconclusive(name, f"only {failed} of {len(during)} calls failed during the "
                             "fault: nothing asked for retries", sig)
    before_rate = len(before) / ev.before.duration
    fault_rate = len(during) / ev.fault.duration
    ratio = fault_rate / before_rate
    sig.update({"before_rate_per_s": _r(before_rate, 2), "fault_rate_per_s": _r(fault_rate, 2),
                "ratio": _r(ratio)})
    text = (f"calls reaching the dependency went from {before_rate:.1f}/s to "
            f"{fault_rate:.1f}/s while it failed (x{ratio:.2f}; the budget allows "
            f"x{max_ratio:.2f})")
    if ratio > max_ratio + AMPLIFICATION_MARGIN:
        reason = (f"retries multiplied the load on the failing dependency x{ratio:.2f}, "
                  f"above x{max_ratio:.2f}: no retry budget holds them")
        return _result(name, Status.BROKEN, f"amplification broken: {text}", sig, [reason])
    held = ("the load on the failing dependency did not grow" if ratio <= 1.0
            else "retries stayed within budget")
    return _result(name, Status.VERIFIED, f"{held}: {text}", sig)

