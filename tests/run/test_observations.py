"""The run's summary of what reached an observed proxy: per second attempts, failures and
the most in flight (run/observations.py), on records built by construction; and the file
round trip the oracles read. The records of a real run: tests/patterns/test_verify_demo.py."""

from __future__ import annotations

import json
from pathlib import Path

from faultlab.proxy.observe import RequestObservation
from faultlab.record import ObservedProxy
from faultlab.run.observations import OBSERVATIONS_NAME, read_observations, summarize


def req(start: float, end: float | None, *, status: int | None = 200,
        outcome: str = "response", trace: str | None = None, conn: int = 1,
        seq: int = 0) -> RequestObservation:
    response = end if outcome in ("response", "injected") else None
    return RequestObservation("p", conn, seq, "GET", "/x", trace, None, start, response,
                              status if response is not None else None, end, outcome)


def test_counts_per_second_and_failures() -> None:
    records = [req(0.1, 0.2), req(0.5, 0.6, status=503), req(1.2, 1.3, outcome="injected",
                                                                status=503),
               req(1.4, 1.9, outcome="closed", trace="a" * 32)]
    entry = summarize(records, connections=2, dropped=0, file=OBSERVATIONS_NAME)
    ObservedProxy.model_validate(entry)  # the record's part accepts it
    seconds = {s["t"]: s for s in entry["seconds"]}
    assert seconds[0]["started"] == 2 and seconds[0]["failed"] == 1
    assert seconds[1]["started"] == 2 and seconds[1]["failed"] == 2
    assert entry["outcomes"] == {"closed": 1, "injected": 1, "response": 2}
    assert entry["statuses"] == {"200": 1, "503": 2}
    assert entry["traced"] == 1 and entry["requests"] == 4


def test_in_flight_is_the_most_open_at_once_also_across_seconds() -> None:
    # three overlap in second 0; one of them stays open through seconds 1 and 2
    records = [req(0.1, 0.5), req(0.2, 0.6), req(0.3, 2.5), req(3.0, 3.1)]
    seconds = {s["t"]: s for s in summarize(records, 1, 0, "x")["seconds"]}
    assert seconds[0]["in_flight"] == 3
    assert seconds[1]["in_flight"] == 1 and seconds[1]["started"] == 0
    assert seconds[2]["in_flight"] == 1
    assert seconds[3]["in_flight"] == 1


def test_an_end_at_a_start_frees_the_slot_first() -> None:
    seconds = summarize([req(0.1, 0.4), req(0.4, 0.7)], 1, 0, "x")["seconds"]
    assert seconds[0]["in_flight"] == 1


def test_nothing_observed_is_an_empty_summary() -> None:
    entry = summarize([], 0, 0, "x")
    assert entry["seconds"] == [] and entry["requests"] == 0


def test_read_observations_returns_one_targets_requests(tmp_path: Path) -> None:
    a, b = req(0.1, 0.2, trace="b" * 32), req(0.3, None, outcome="open")
    lines = [{"target": "t1", **a.to_json()}, {"target": "t2", **b.to_json()},
             {"target": "t1", "type": "connection", "proxy": "p", "conn": 1,
              "client": "127.0.0.1:1", "opened": 0.0, "closed": 1.0, "reason": "completed",
              "bytes_up": 1, "bytes_down": 2, "requests": 1}]
    (tmp_path / OBSERVATIONS_NAME).write_text("".join(json.dumps(x) + "\n" for x in lines))
    assert read_observations(tmp_path, "t1") == [a]
    assert read_observations(tmp_path, "t2") == [b]
    assert read_observations(tmp_path / "none", "t1") == []
