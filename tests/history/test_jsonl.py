"""The JSON Lines reader and writer, and the recorder."""

from __future__ import annotations

import asyncio
import io
import threading
from pathlib import Path

import pytest

from faultlab.clock import ManualClock
from faultlab.history import (
    HistoryError,
    Op,
    Outcome,
    Recorder,
    dump_op,
    parse_jsonl,
    read_jsonl,
    write_jsonl,
)

GOOD = (
    '{"process": 0, "f": "write", "key": "k", "value": 3, "invoke_ns": 10, "complete_ns": 20,'
    ' "outcome": "ok"}\n'
    '{"process": 1, "f": "cas", "value": [3, 4], "invoke_ns": 15, "outcome": "info",'
    ' "error": "timeout"}\n'
    '\n'
    '{"index": 9, "process": "nemesis", "f": "start", "invoke_ns": 1, "complete_ns": 2,'
    ' "outcome": "info"}\n'
)


def test_reads_paired_ops_with_defaults() -> None:
    h = parse_jsonl(GOOD)
    assert [op.index for op in h] == [0, 1, 9]
    assert h[0] == Op(0, 0, "write", 3, 10, 20, Outcome.OK, "k")
    assert h[1].value == (3, 4) and h[1].complete_ns is None and h[1].error == "timeout"
    assert not h[2].is_client and [op.index for op in h.client_ops()] == [0, 1]


def test_round_trip_through_a_file(tmp_path: Path) -> None:
    h = parse_jsonl(GOOD)
    write_jsonl(h, tmp_path / "h.jsonl")
    assert read_jsonl(tmp_path / "h.jsonl") == h


@pytest.mark.parametrize(("line", "where", "words"), [
    ('{"process": 0, "f": "read", "invoke_ns": 1, "complete_ns": 2, "outcome": "okay"}',
     "1:63", "did you mean 'ok'"),
    ('{"process": 0, "f": "read", "invoke_ns": 1, "complete_ns": 2, "outcom": "ok"}',
     "1:63", "did you mean 'outcome'"),
    ('{"process": 0, "f": "read", "invoke_ns": 1.5, "complete_ns": 2, "outcome": "ok"}',
     "1:29", "integer nanoseconds"),
    ('{"process": 0, "f": "read", "invoke_ns": 5, "complete_ns": 2, "outcome": "ok"}',
     "1:45", "completed at 2, before its invocation at 5"),
    ('{"process": 0, "f": "read", "invoke_ns": 5, "outcome": "ok"}', "1:45",
     "only an 'info'"),
    ('{"process": 0, "f": "read", "invoke_ns": 5', "1:1", "not JSON"),
    ('[1, 2]', "1:1", "expected a JSON object"),
    ('{"process": 0, "process": 1}', "1:16", "appears twice"),
    ('{"process": 0, "f": "read", "invoke_ns": NaN, "outcome": "ok"}', "1:1", "NaN"),
    ('{"f": "read", "invoke_ns": 5, "outcome": "ok"}', "1:1", "missing field 'process'"),
    # values and times a checker could not use are refused, not silently taken
    ('{"process": 0, "f": "read", "value": 1e999, "invoke_ns": 1, "outcome": "info"}', "1:1",
     "too large"),
    ('{"process": 0, "f": "read", "value": -1e400, "invoke_ns": 1, "outcome": "info"}', "1:1",
     "too large"),
    ('{"process": 0, "f": "w", "value": ' + "[" * 250 + "]" * 250 + ', "invoke_ns": 1, '
     '"outcome": "info"}', "1:26", "nested more than 200"),
    ('{"process": 0, "f": "read", "invoke_ns": 4611686018427387904, "outcome": "info"}', "1:29",
     "from 0 to 4611686018427387903"),
    ('{"process": "3", "f": "read", "invoke_ns": 1, "outcome": "info"}', "1:2",
     "looks like a number"),
    ('{"process": " ", "f": "read", "invoke_ns": 1, "outcome": "info"}', "1:2",
     "must be an integer or a name"),
    ('{"process": true, "f": "read", "invoke_ns": 1, "outcome": "info"}', "1:2",
     "must be an integer or a name"),
])
def test_bad_lines_give_one_line_problems(line: str, where: str, words: str) -> None:
    with pytest.raises(HistoryError) as caught:
        parse_jsonl(line, "h.jsonl")
    text = str(caught.value)
    assert text.startswith(f"h.jsonl:{where}: "), text
    assert words in text and "\n" not in text


def test_indexes_are_unique() -> None:
    with pytest.raises(HistoryError) as caught:
        parse_jsonl('{"index": 1, "process": 0, "f": "read", "invoke_ns": 1, "outcome": "info"}\n'
                    '{"process": 1, "f": "read", "invoke_ns": 1, "outcome": "info"}', "h.jsonl")
    assert str(caught.value).startswith("h.jsonl:2:1: index 1 is already the index of the "
                                        "operation on line 1")


def test_lines_may_come_in_any_order_and_with_any_line_ending() -> None:
    def by_process(text: str) -> dict[object, tuple[object, ...]]:
        return {op.process: (op.f, op.value, op.invoke_ns, op.complete_ns, op.outcome)
                for op in parse_jsonl(text)}

    lines = GOOD.strip("\n").split("\n")
    shuffled = "\ufeff" + "\r\n".join(reversed(lines)) + "\r"
    assert by_process(shuffled) == by_process(GOOD)


def test_operations_know_their_line() -> None:
    h = parse_jsonl(GOOD, "h.jsonl")
    assert [str(op.source) for op in h] == ["h.jsonl:1:1", "h.jsonl:2:1", "h.jsonl:4:1"]


def test_problems_name_the_line() -> None:
    with pytest.raises(HistoryError) as caught:
        parse_jsonl(GOOD + "oops\n", "h.jsonl")
    assert str(caught.value).startswith("h.jsonl:5:1: not JSON")


def test_missing_file_is_a_problem_not_a_traceback(tmp_path: Path) -> None:
    with pytest.raises(HistoryError, match="cannot read the history"):
        read_jsonl(tmp_path / "nope.jsonl")


async def test_recorder_stamps_and_streams() -> None:
    clock = ManualClock(start=1.0)
    sink = io.StringIO()
    rec = Recorder(clock, sink)
    w = rec.invoke(0, "write", 5, key="a")
    r = rec.invoke(1, "read")
    await clock.advance(0.5)
    assert w.ok() == Op(0, 0, "write", 5, 1_000_000_000, 1_500_000_000, Outcome.OK, "a")
    r.ok(5)
    c = rec.invoke(2, "cas", (5, 6))
    with pytest.raises(RuntimeError, match="already completed"):
        w.fail()
    h = rec.close()
    assert [op.outcome for op in h] == [Outcome.OK, Outcome.OK, Outcome.INFO]
    assert h[2].complete_ns is None and h[2].value == (5, 6) and c.index == 2
    assert parse_jsonl(sink.getvalue()) == h
    with pytest.raises(RuntimeError, match="closed"):
        rec.invoke(0, "read")


def test_recorder_is_thread_safe() -> None:
    rec = Recorder()

    def client(p: int) -> None:
        for i in range(200):
            rec.invoke(p, "write", i).ok()

    threads = [threading.Thread(target=client, args=(p,)) for p in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    h = rec.close()
    assert sorted(op.index for op in h) == list(range(1600))
    assert all(op.complete_ns is not None and op.complete_ns >= op.invoke_ns for op in h)


async def test_recorder_from_asyncio_tasks() -> None:
    rec = Recorder()

    async def client(p: int) -> None:
        for i in range(50):
            handle = rec.invoke(p, "add", i)
            await asyncio.sleep(0)
            handle.info("timeout") if i % 10 == 0 else handle.ok()

    await asyncio.gather(*(client(p) for p in range(4)))
    h = rec.close()
    assert len(h) == 200 and sum(op.outcome is Outcome.INFO for op in h) == 20
    assert dump_op(h[0]).startswith('{"index": 0')
