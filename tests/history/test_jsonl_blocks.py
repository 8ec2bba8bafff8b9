"""The JSON Lines reader over blocks of lines (``lines.file_blocks``) against the general
reader: the same operations with the same sources, or the same problems, however the file
falls into blocks and whichever lines are unusual; and it still stops soon after a mistake.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from faultlab.history import HistoryError, Op, Outcome, dump_op, jsonl
from faultlab.history import lines as lines_module
from faultlab.history.jsonl import read_jsonl, read_jsonl_strict
from faultlab.history.model import Value
from faultlab.history.rules import LOOKAHEAD

PROPS = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def read(path: Path, strict: bool) -> tuple[str, object]:
    try:
        history = (read_jsonl_strict if strict else read_jsonl)(path)
    except HistoryError as exc:
        return "error", str(exc)
    return "ok", [(op, op.source) for op in history]


def text_of(n: int, values: list[Value], first: int = 0) -> str:
    ops = [Op(i, i % 4, ["read", "write", "cas"][i % 3], values[i % len(values)], 10 * i,
              10 * i + 5, [Outcome.OK, Outcome.INFO, Outcome.FAIL][i % 7 % 3],
              None if i % 5 else f"k{i % 3}", None if i % 11 else "timeout")
           for i in range(first, first + n)]
    return "".join(dump_op(op) + "\n" for op in ops)


@PROPS
@given(n=st.integers(1, 60), block=st.sampled_from([1, 50, 137, 400, 1 << 20]),
       values=st.lists(st.one_of(st.none(), st.integers(-3, 3), st.text(max_size=3),
                                 st.lists(st.integers(0, 3), max_size=3).map(tuple)),
                       min_size=1, max_size=5),
       edits=st.lists(st.tuples(st.integers(0, 10**6), st.sampled_from(
           ["", " ", "\n", "\r\n", '"', "0", "}", "\\", "\x01", "\n\n", "é"])), max_size=3))
def test_block_reader_agrees_with_the_general_reader(n: int, block: int, values: list[Value],
                                                     edits: list[tuple[int, str]]) -> None:
    text = text_of(n, values)
    for at, piece in edits:  # blank lines, broken lines, lines the fast path refuses
        at %= len(text) + 1
        text = text[:at] + piece + text[at + 1:]
    old = lines_module._BLOCK
    lines_module._BLOCK = block
    try:
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "h.jsonl"
            path.write_text(text, encoding="utf-8", newline="")
            assert read(path, strict=False) == read(path, strict=True)
    finally:
        lines_module._BLOCK = old


def test_many_distinct_values_read_alike(tmp_path: Path) -> None:
    """More distinct value texts than the reader keeps parsed: each still its own value."""
    path = tmp_path / "h.jsonl"
    values: list[Value] = list(range(-2 * jsonl._CACHED, 2 * jsonl._CACHED))
    path.write_text(text_of(3 * jsonl._CACHED, values))
    fast, strict = read(path, strict=False), read(path, strict=True)
    assert fast == strict
    assert fast[0] == "ok"
    assert len({op.value for op, _ in fast[1]}) == 3 * jsonl._CACHED  # type: ignore[attr-defined]


def test_block_reader_stops_soon_after_a_mistake() -> None:
    """A mistake in the first block: the reader takes at most the blocks that hold the next
    LOOKAHEAD lines, never the rest of the file."""
    consumed = 0

    def blocks() -> Iterator[tuple[int, list[str]]]:
        nonlocal consumed
        good = text_of(100, [1, None]).splitlines()
        yield 1, [*good[:10], "oops", *good[11:]]
        for b in range(1, 1000):
            consumed = b
            yield 100 * b + 1, text_of(100, [1, None], 100 * b).splitlines()

    with pytest.raises(HistoryError) as caught:
        jsonl._parse_blocks(blocks(), "h")
    assert [p.line for p in caught.value.problems] == [11]
    assert consumed == (11 + LOOKAHEAD - 1) // 100  # the block holding line 11 + LOOKAHEAD


@pytest.mark.parametrize("enabled", [True, False])
def test_the_cycle_collector_is_left_as_it_was(enabled: bool, tmp_path: Path) -> None:
    import gc

    good, bad = tmp_path / "good.jsonl", tmp_path / "bad.jsonl"
    good.write_text(text_of(50, [1, None]))
    bad.write_text(text_of(5, [1]) + "oops\n")
    was = gc.isenabled()
    (gc.enable if enabled else gc.disable)()
    try:
        assert len(read_jsonl(good)) == 50
        assert gc.isenabled() is enabled
        with pytest.raises(HistoryError):
            read_jsonl(bad)
        assert gc.isenabled() is enabled
    finally:
        (gc.enable if was else gc.disable)()
