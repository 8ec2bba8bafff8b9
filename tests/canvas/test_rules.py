"""The rules on small canvases whose figures are computed by hand."""

from __future__ import annotations

import math

import pytest

from faultlab.canvas.analysis.availability import k_of_n

from .conftest import analysis, findings, only

CHAIN = """
name: chain
services:
  web: {availability: 99.99%}
  api: {availability: 99.99%}
  auth: {availability: 99.99%}
  cart: {availability: 99.99%}
  search: {availability: 99.99%}
dependencies:
  - {from: web, to: api, timeout: 1s}
  - {from: api, to: auth, timeout: 1s}
  - {from: auth, to: cart, timeout: 1s}
  - {from: cart, to: search, timeout: 1s}
journeys:
  home: {entry: web, rps: 100/s, slo: {availability: 99.99%}}
"""


def test_series_journey_and_unreachable_slo() -> None:
    result = analysis(CHAIN)
    home = result.journeys["home"]
    assert home.availability == pytest.approx(0.9999**5)
    assert home.exact and home.meets_slo is False
    f = only(result, "availability.slo-unreachable")
    assert f.message == ("journey home: availability SLO 99.9900% cannot be met: its parts "
                         "allow at most 99.950%")
    assert f.numbers["availability"] == pytest.approx(0.9999**5)
    assert f.weight == pytest.approx(100 * 4)  # 100/s x four nines
    # each of api..search is critical at 99.99% but needs 99.999%
    assert sorted(f.subject for f in findings(result, "availability.extra-nine")) == \
        ["api", "auth", "cart", "search"]
    assert set(home.spofs) == {"web", "api", "auth", "cart", "search"}


DATASTORE = """
name: quorum
zones: {a: {availability: 99.9%}, b: {availability: 99.9%}, c: {availability: 99.9%}}
services:
  api: {availability: 99%, instances: 3, zones: [a, b, c]}
datastores:
  db: {availability: 99%, replicas: 3, quorum: 2, zones: [a, b, c]}
  one-zone: {availability: 99%, replicas: 3, zones: [a]}
dependencies:
  - {from: api, to: db, timeout: 100ms}
  - {from: api, to: one-zone, timeout: 100ms}
journeys:
  read: {entry: api, rps: 10/s, steps: ["api -> db"]}
  write: {entry: api, rps: 30/s, steps: ["api -> one-zone"], slo: {availability: 99.8%}}
"""


def test_zones_condition_the_whole_journey() -> None:
    result = analysis(DATASTORE)
    z, a = 0.999, 0.99
    # api and db share zones: sum over the 8 zone states
    expected = written = 0.0
    for downs in range(8):
        down = [bool(downs >> i & 1) for i in range(3)]
        p = math.prod(1 - z if d else z for d in down)
        alive = 3 - sum(down)
        expected += p * k_of_n(1, alive, a) * k_of_n(2, alive, a)
        written += p * k_of_n(1, alive, a) * (0.0 if down[0] else k_of_n(2, 3, a))
    assert result.journeys["read"].availability == pytest.approx(expected)
    write = result.journeys["write"]
    assert write.availability == pytest.approx(written)
    assert write.spof_zones == ("a",) and write.spofs == ()
    f = only(result, "spof.zone")
    assert f.subject == "a" and f.journeys == ("write",)
    assert "losing it stops one-zone" in f.message
    assert not findings(result, "spof.node")  # every node has spare instances


def test_zone_blast_radius() -> None:
    result = analysis(DATASTORE)
    blast = result.blast_of("a", "zone")
    assert blast.stops == ("one-zone",)
    assert blast.failed == ("write",) and blast.share == pytest.approx(0.75)
    assert result.blast_of("db").failed == ("read",)


SHARED = """
name: shared
services:
  web: {availability: 99%}
  left: {availability: 95%}
  right: {availability: 95%}
datastores:
  db: {availability: 90%}
dependencies:
  - {from: web, to: left, timeout: 1s}
  - {from: web, to: right, kind: soft, fallback: 50%, timeout: 1s}
  - {from: left, to: db, timeout: 1s}
  - {from: right, to: db, timeout: 1s}
journeys:
  page: {entry: web, rps: 1/s}
"""


def test_a_shared_node_is_counted_once() -> None:
    result = analysis(SHARED)
    # db up (0.9): web·left·(right ok or fallback); db down: left fails, the page fails
    up = 0.99 * 0.95 * (1 - (1 - 0.95) * 0.5)
    assert result.journeys["page"].availability == pytest.approx(0.9 * up)
    assert result.journeys["page"].exact
    assert set(result.journeys["page"].critical) == {"web", "left", "db"}


NAIVE_RETRIES = """
name: retries
services:
  edge: {}
  api: {}
  svc: {}
datastores:
  db: {}
dependencies:
  - {from: edge, to: api, attempts: 3, timeout: 1s}
  - {from: api, to: svc, attempts: 3, timeout: 300ms}
  - {from: svc, to: db, attempts: 3, timeout: 50ms, idempotent: false}
journeys:
  j: {entry: edge, rps: 20/s}
"""


def test_retry_amplification_and_layers() -> None:
    result = analysis(NAIVE_RETRIES)
    f = next(f for f in findings(result, "retries.amplification") if f.subject == "svc->db")
    assert f.numbers["amplification"] == 27
    assert f.numbers["path"] == ["edge", "api", "svc", "db"]
    assert f.numbers["calls_per_second"] == pytest.approx(20 * 27)
    assert only(result, "retries.not-idempotent").subject == "svc->db"
    layers = findings(result, "retries.layers")
    assert [f.numbers["layers"] for f in layers] == [["edge->api", "api->svc"],
                                                     ["edge->api", "api->svc", "svc->db"]]
    # 4 attempts (3 retries) per layer: 64x
    four = analysis(NAIVE_RETRIES.replace("attempts: 3", "attempts: 4"))
    assert result.calls["svc->db"].amplification == 27
    assert four.calls["svc->db"].amplification == 64
    # budgets of 10% at each layer: 1.1³
    budgets = analysis(NAIVE_RETRIES.replace("attempts: 3,", "attempts: 3, retry_budget: 10%,"))
    assert budgets.calls["svc->db"].amplification == pytest.approx(1.331)
    assert budgets.calls["svc->db"].attempts_product == 27
    assert not findings(budgets, "retries.amplification")
    assert not findings(analysis(NAIVE_RETRIES, threshold=30), "retries.amplification")


def test_a_fallback_that_always_serves_stops_the_retries_above() -> None:
    soft = NAIVE_RETRIES.replace("{from: api, to: svc,", "{from: api, to: svc, kind: soft,")
    result = analysis(soft)
    # a failure of db: svc retries 3x and fails; api retries 3x and falls back; edge never sees it
    assert result.calls["svc->db"].amplification == 9
    assert result.calls["api->svc"].amplification == 3  # svc failing: api's 3, then fallback


TIMEOUTS = """
name: timeouts
services:
  a: {}
  b: {}
datastores:
  c: {}
dependencies:
  - {from: a, to: b, timeout: 1s}
  - {from: b, to: c, timeout: 400ms, attempts: 3, backoff: [100ms, 200ms]}
journeys:
  j: {entry: a, rps: 10/s, slo: {latency: {p99: 800ms}}, timeout: 900ms}
"""


def test_timeout_budget() -> None:
    result = analysis(TIMEOUTS)
    budget = findings(result, "timeouts.budget")
    f = next(f for f in budget if f.subject == "a->b")
    assert f.numbers["caller_timeout"] == 1.0
    assert f.numbers["callee_worst_case"] == pytest.approx(1.5)
    assert "gives up on b after 1s, but b may work for 1.5s" in f.message
    j = next(f for f in budget if f.subject == "j")  # users wait 900ms for a's 1s
    assert j.numbers["callee_worst_case"] == pytest.approx(1.0)
    slo = only(result, "timeouts.above-slo")
    assert slo.numbers["worst_case"] == pytest.approx(1.0) and slo.numbers["slo"] == 0.8
    assert not findings(result, "timeouts.missing")
    # a deadline on a's call caps the journey's worst case: 700ms fits the SLO and the users
    fixed = analysis(TIMEOUTS.replace("timeout: 1s}", "timeout: 1s, deadline: 700ms}"))
    assert [f.subject for f in findings(fixed, "timeouts.budget")] == ["a->b"]
    assert not findings(fixed, "timeouts.above-slo")


def test_missing_timeouts_and_pools() -> None:
    result = analysis("""
name: pools
services:
  a: {instances: 2}
  b: {}
  c: {}
dependencies:
  - {from: a, to: b, pool: 10}
  - {from: b, to: c, timeout: 500ms, attempts: 2, pool: 40}
  - {from: a, to: c, kind: soft, timeout: 100ms}
journeys:
  j: {entry: a, rps: 50/s}
""")
    assert sorted(f.subject for f in findings(result, "timeouts.missing")) == ["a->b"]
    pools = {f.subject: f for f in findings(result, "pools.exhaustion")}
    assert "without bound" in pools["a->b"].message  # a pool, no timeout: always exhausted
    assert str(pools["a->b"].severity) == "warning"
    # 50/s x 2 attempts x 500ms = 50 in flight > 40
    assert pools["b->c"].numbers["in_flight"] == pytest.approx(50)
    # no pool: a note; 50/s x 100ms over a's 2 instances = 2.5 each
    assert str(pools["a->c"].severity) == "info"
    assert pools["a->c"].numbers["in_flight"] == pytest.approx(2.5)


def test_error_budget() -> None:
    result = analysis(CHAIN.replace("99.99%}}", "99.9%, window: 720h}}"))
    f = only(result, "budget.error")
    assert f.numbers["seconds"] == pytest.approx(2592)
    assert f.numbers["requests"] == pytest.approx(259_200)
    assert result.journeys["home"].error_budget == pytest.approx((2592, 259_200))


def test_findings_are_ranked() -> None:
    result = analysis(DATASTORE + """  more: {entry: api, rps: 1000/s, steps: ["api -> db"]}
""")
    keys = [(-f.severity, -f.weight) for f in result.findings]
    assert keys == sorted(keys)
    blasts = [f.subject for f in result.findings if f.rule.startswith("blast")]
    assert blasts == ["api", "db", "one-zone", "a"]  # 1040/s, 1010/s, 30/s (node, zone)


def test_an_unreachable_slo_sunk_by_a_partial_fallback_names_the_fallback() -> None:
    """Raising the weakest critical node cannot fix a journey whose loss comes from a soft
    call whose fallback fails 10% of the time: the fix names that fallback."""
    from faultlab.canvas.analysis import analyze
    from faultlab.canvas.loader import load_canvas_text

    canvas = load_canvas_text("""
name: bookstore
services:
  web: {instances: 4, availability: 99.5%}
  catalog: {instances: 2, availability: 99.9%}
  search: {availability: 99%}
dependencies:
  - {from: web, to: catalog, timeout: 100ms}
  - {from: web, to: search, kind: soft, fallback: 90%, timeout: 100ms}
journeys:
  browse: {entry: web, rps: 200/s, slo: {availability: 99.9%}}
""").canvas
    (f,) = [f for f in analyze(canvas).findings if f.rule == "availability.slo-unreachable"]
    assert f.numbers["partial_fallbacks"]["web->search"] == pytest.approx(0.01 * 0.1)
    assert f.fix.startswith("web's fallback for search succeeds 90.00%")
    assert "99.8999%" in f.message  # not rounded up to the SLO
