"""The fast paths of the JSON Lines reader against the general reader they stand in for.

The fast line reader (lines exactly as ``dump_op`` writes them) must give the same
operations, with the same sources, as the general reader, and every line it refuses must
get the general reader's problems; the block reader of files must give the same lines (and
the same problems) as reading line by line.
"""

from __future__ import annotations

import io
import random
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from faultlab.history import HistoryError, Op, Outcome, dump_op
from faultlab.history import lines as lines_module
from faultlab.history.jsonl import parse_jsonl, parse_jsonl_strict, read_jsonl, read_jsonl_strict

PROPS = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def outcome_of(text: str) -> tuple[str, object]:
    try:
        history = parse_jsonl(text, "h.jsonl")
    except HistoryError as exc:
        return "error", str(exc)
    return "ok", [(op, op.source) for op in history]


def strict_outcome_of(text: str) -> tuple[str, object]:
    try:
        history = parse_jsonl_strict(text, "h.jsonl")
    except HistoryError as exc:
        return "error", str(exc)
    return "ok", [(op, op.source) for op in history]


VALUES = st.one_of(st.none(), st.integers(-(10**20), 10**20), st.text(max_size=5),
                   st.tuples(st.integers(-5, 5), st.integers(-5, 5)),
                   st.lists(st.integers(0, 9), max_size=4).map(tuple), st.booleans(),
                   st.floats(allow_nan=False, allow_infinity=False))


@st.composite
def histories(draw: st.DrawFn) -> list[Op]:
    ops = []
    clock = 0
    for i in range(draw(st.integers(1, 6))):
        outcome = draw(st.sampled_from(list(Outcome)))
        start = clock + draw(st.integers(0, 3))
        end = None if outcome is Outcome.INFO and draw(st.booleans()) else \
            start + draw(st.integers(0, 3))
        clock = end if end is not None else start
        ops.append(Op(draw(st.sampled_from([i, i, i + 1000, 0])),
                      draw(st.sampled_from([0, 1, -1, 7])),
                      draw(st.sampled_from(["read", "write", "cas", "é", 'a"b'])),
                      draw(VALUES), start, end, outcome,
                      draw(st.sampled_from([None, "k1", "", 3, -2])),
                      draw(st.sampled_from([None, "timeout", "a\\b"]))))
    return ops


@PROPS
@given(ops=histories(), edits=st.lists(st.tuples(st.integers(0, 10**6), st.sampled_from(
    ['', ' ', '"', '0', '-', 'null', '9' * 20, ',', '}', '\\', '\x01', 'e5', '"index": 0, ']
)), max_size=3))
def test_fast_reader_agrees_with_the_general_reader(ops: list[Op],
                                                    edits: list[tuple[int, str]]) -> None:
    text = "".join(dump_op(op) + "\n" for op in ops)
    for at, piece in edits:  # damage the text: the fast path must refuse what is wrong
        at %= len(text) + 1
        text = text[:at] + piece + text[at + 1:]
    assert outcome_of(text) == strict_outcome_of(text)


def test_fast_reader_takes_the_recorders_lines() -> None:
    """The fast path is taken (a test that cannot fail otherwise: compare with it off)."""
    rng = random.Random(3)
    ops = [Op(i, i % 5, rng.choice(["read", "write", "cas"]), rng.choice([None, 1, (1, 2)]),
              10 * i, 10 * i + 5, rng.choice(list(Outcome)), rng.choice([None, "k", 4]),
              rng.choice([None, "e"])) for i in range(200)]
    text = "".join(dump_op(op) + "\n" for op in ops)
    assert outcome_of(text) == strict_outcome_of(text)
    assert list(parse_jsonl(text)) == ops
    from faultlab.history import jsonl
    assert all(jsonl._FAST.match(line) for line in text.splitlines())


def block_lines(data: bytes, tmp: Path) -> tuple[str, object]:
    path = tmp / "h.jsonl"
    path.write_bytes(data)
    try:
        return "ok", list(lines_module.file_lines(path))
    except HistoryError as exc:
        return "error", str(exc)


def line_by_line(data: bytes) -> tuple[str, object]:
    try:
        return "ok", list(lines_module._line_by_line(io.BytesIO(data), "h.jsonl", 0))
    except HistoryError as exc:
        return "error", str(exc).replace("h.jsonl", "PATH")


@PROPS
@given(parts=st.lists(st.sampled_from([b"a", b"\n", b"\r", b"\r\n", b"\xef\xbb\xbf", b"\xff",
                                       "é".encode(), b"{}", b" "]), max_size=30),
       block=st.sampled_from([1, 2, 3, 7, 1 << 20]))
def test_block_reader_agrees_with_reading_line_by_line(parts: list[bytes], block: int,
                                                       tmp_path_factory: object) -> None:
    import tempfile
    data = b"".join(parts)
    old = lines_module._BLOCK
    lines_module._BLOCK = block
    try:
        with tempfile.TemporaryDirectory() as tmp:
            got = block_lines(data, Path(tmp))
            if got[0] == "error":
                got = ("error", str(got[1]).replace(str(Path(tmp) / "h.jsonl"), "PATH"))
    finally:
        lines_module._BLOCK = old
    assert got == line_by_line(data)


def test_files_read_alike(tmp_path: Path) -> None:
    ops = [Op(i, i % 3, "write", i, 10 * i, 10 * i + 5, Outcome.OK) for i in range(3000)]
    path = tmp_path / "h.jsonl"
    path.write_text("".join(dump_op(op) + "\n" for op in ops))
    assert read_jsonl(path) == read_jsonl_strict(path)
    assert [op.source for op in read_jsonl(path)] == [op.source for op in
                                                      read_jsonl_strict(path)]


def test_duplicate_index_found_however_far_apart() -> None:
    """A large index is kept aside, then the bitmap grows over it: still a duplicate."""
    ops = [Op(100_000, 0, "write", 1, 0, 1, Outcome.OK)]
    ops += [Op(i, 1, "write", 1, 10 + 2 * i, 11 + 2 * i, Outcome.OK) for i in range(20_000)]
    ops += [Op(100_000, 2, "write", 1, 0, 1, Outcome.OK)]
    text = "".join(dump_op(op) + "\n" for op in ops)
    for parse in (parse_jsonl, parse_jsonl_strict):
        with pytest.raises(HistoryError, match="index 100000 is already the index of the "
                           "operation on line 1"):
            parse(text, "h.jsonl")
