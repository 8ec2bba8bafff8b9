"""The JSON Lines reader's msgspec path against its pattern path (msgspec off) and the strict
reader: the same operations with the same sources, or the same problems, whatever the lines
(duplicate fields, explicit nulls, escapes, negative or huge integers, floats, booleans,
unknown or missing fields, wrong types, control characters, reordered fields, whitespace,
blank lines, two objects on a line, an object over two lines)."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from faultlab.history import HistoryError, Op, Outcome, dump_op, jsonl
from faultlab.history import lines as lines_module
from faultlab.history.jsonl import parse_jsonl, parse_jsonl_strict, read_jsonl
from faultlab.history.model import SourceFile

PROPS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def outcome(parse: Callable[[str, str], object], text: str) -> tuple[str, object]:
    try:
        history = parse(text, "h.jsonl")
    except HistoryError as exc:
        return "error", str(exc)
    return "ok", [(op, op.source) for op in history]  # type: ignore[attr-defined]


def three_ways(text: str) -> tuple[object, object, object]:
    """(msgspec path, pattern path, strict reader)."""
    fast = outcome(parse_jsonl, text)
    saved = jsonl.USE_MSGSPEC
    jsonl.USE_MSGSPEC = False
    try:
        pattern = outcome(parse_jsonl, text)
    finally:
        jsonl.USE_MSGSPEC = saved
    return fast, pattern, outcome(parse_jsonl_strict, text)


def agree(text: str) -> object:
    fast, pattern, strict = three_ways(text)
    assert fast == strict
    assert pattern == strict
    return fast


STRINGS = st.sampled_from(["read", "write", "cas", "a:b", "::", "", "é", "x y", "k:1"])
VALUES = st.one_of(st.none(), st.integers(-(10**20), 10**20), STRINGS,
                   st.lists(st.integers(-3, 10**12), max_size=3).map(tuple))


@st.composite
def histories(draw: st.DrawFn) -> list[Op]:
    ops = []
    clock = 0
    for i in range(draw(st.integers(1, 8))):
        kind = draw(st.sampled_from(list(Outcome)))
        start = clock + draw(st.integers(0, 3))
        end = None if kind is Outcome.INFO and draw(st.booleans()) else \
            start + draw(st.integers(0, 3))
        clock = end if end is not None else start
        ops.append(Op(draw(st.sampled_from([i, i, i + 5000, 0])),
                      draw(st.sampled_from([0, 1, -1, 7])),
                      draw(st.sampled_from(["read", "write", "cas", "x:y"])), draw(VALUES),
                      start, end, kind, draw(st.sampled_from([None, "k1", "", 3, -2, "a:b"])),
                      draw(st.sampled_from([None, "timeout", "e: 1"]))))
    return ops


def _reordered(line: str) -> str:
    try:
        data = json.loads(line)
    except ValueError:
        return line
    return json.dumps(dict(reversed(list(data.items())))) if isinstance(data, dict) else line


def _field(line: str, name: str, raw: str) -> str:
    """``line`` with the value of field ``name`` written as ``raw`` (unchanged if absent)."""
    try:
        data = json.loads(line)
    except ValueError:
        return line
    if not isinstance(data, dict) or name not in data:
        return line
    head, _, rest = line.partition(f'"{name}": ')
    old = json.dumps(data[name])
    return head + f'"{name}": ' + raw + rest[len(old):] if rest.startswith(old) else line


MUTATIONS: list[Callable[[str], str]] = [
    lambda s: '{"index": 3, ' + s[1:],  # duplicate fields, with and without spaces
    lambda s: '{"f":"x",' + s[1:],
    lambda s: s[:-1] + ', "invoke_ns": 0}',
    lambda s: s[:-1] + ',"outcome":"ok"}',
    lambda s: s[:-1] + ', "key": null}',  # explicit nulls
    lambda s: s[:-1] + ', "error": null}',
    lambda s: s[:-1] + ', "key": "k", "key": null}',
    lambda s: s.replace('"f": "', '"f": "\\u003a', 1),  # escapes
    lambda s: s.replace('"f": "', '"f": "\\"', 1),
    lambda s: s.replace('"f": "', '"f": "\\u0000', 1),
    lambda s: _field(s, "value", '"\\u0041:"'),
    lambda s: _field(s, "index", "-1"),  # negative and huge integers
    lambda s: _field(s, "invoke_ns", "-3"),
    lambda s: _field(s, "complete_ns", "-3"),
    lambda s: _field(s, "index", "1" + "0" * 30),
    lambda s: _field(s, "value", "9" * 4301),
    lambda s: _field(s, "value", "-" + "9" * 30),
    lambda s: _field(s, "complete_ns", "9" * 25),
    lambda s: _field(s, "index", "1.0"),  # floats
    lambda s: _field(s, "value", "1.5"),
    lambda s: _field(s, "value", "1e400"),
    lambda s: _field(s, "invoke_ns", "1e3"),
    lambda s: _field(s, "value", "true"),  # booleans
    lambda s: _field(s, "process", "false"),
    lambda s: _field(s, "value", "[true, 1]"),
    lambda s: s[:-1] + ', "extra": 1}',  # unknown fields
    lambda s: s.replace('"index"', '"idx"', 1),
    lambda s: s + "\n",  # blank lines
    lambda s: s + "\n   ",
    lambda s: "\t\n" + s,
    lambda s: s.replace('"index": ', '"_": ', 1).replace('"_": ', "", 1),
    lambda s: s.replace(', "outcome": ', ', "_": ', 1),  # missing (and unknown) fields
    lambda s: _field(s, "f", "1"),  # wrong types
    lambda s: _field(s, "f", '""'),
    lambda s: _field(s, "outcome", '"OK"'),
    lambda s: _field(s, "process", '"3"'),
    lambda s: _field(s, "process", '"nemesis"'),
    lambda s: _field(s, "key", "[1]"),
    lambda s: _field(s, "value", '{"a": 1}'),
    lambda s: _field(s, "error", "3"),
    lambda s: _field(s, "complete_ns", "0"),
    lambda s: s.replace('"f": "', '"f": "\x01', 1),  # control characters
    lambda s: s.replace('"f": "', '"f": "\t', 1),
    lambda s: s.replace('"f": "', '"f": "\x7f', 1),
    _reordered,
    lambda s: s.replace(", ", " ,\t ").replace(": ", ":"),  # whitespace
    lambda s: " " + s + " ",
    lambda s: s + "\t",
    lambda s: s + " " + s + "\n",  # two objects on a line (and a blank line)
    lambda s: s + s,
    lambda s: s.replace(", ", ",\n", 1),  # an object over two lines
    lambda s: s[:-1],
    lambda s: s + "}",
    lambda s: "[" + s + "]",
    lambda s: s.replace('"f": "', '"f": "\ud800', 1),  # a lone surrogate
]


@PROPS
@given(ops=histories(), edits=st.lists(st.tuples(st.integers(0, 100),
                                                 st.integers(0, len(MUTATIONS) - 1)),
                                       max_size=3),
       chars=st.lists(st.tuples(st.integers(0, 10**6), st.sampled_from(
           ["", " ", '"', "0", "-", ":", ",", "}", "\\", "\x01", "\n", "e5", "null"])),
           max_size=2))
def test_three_readers_agree(ops: list[Op], edits: list[tuple[int, int]],
                             chars: list[tuple[int, str]]) -> None:
    lines = [dump_op(op) for op in ops]
    for at, which in edits:
        at %= len(lines)
        lines[at] = MUTATIONS[which](lines[at])
    text = "\n".join(lines) + "\n"
    for at, piece in chars:
        at %= len(text) + 1
        text = text[:at] + piece + text[at + 1:]
    agree(text)


@pytest.mark.parametrize("mutation", range(len(MUTATIONS)))
def test_each_mutation_alone(mutation: int) -> None:
    ops = [Op(i, i % 3, ["read", "write", "cas"][i % 3], [None, 5, "v:1", (1, 2)][i % 4],
              10 * i, 10 * i + 5, Outcome.OK, None if i % 2 else "k", None if i % 3 else "e")
           for i in range(6)]
    lines = [dump_op(op) for op in ops]
    lines[2] = MUTATIONS[mutation](lines[2])
    agree("\n".join(lines) + "\n")


def test_blocks_msgspec_declines() -> None:
    """The gates refuse a block that msgspec would read otherwise than the strict reader;
    the recorder's own lines are taken."""
    decode = jsonl._block_decoder()
    assert decode is not None
    good = [dump_op(Op(i, 1, "w:x", "a:b", i, i + 1, Outcome.OK, "k:1", "e:r"))
            for i in range(3)]

    def take(lines: list[str]) -> bool:
        return jsonl._decode_block(decode, "\n".join(lines), len(lines), 1,
                                   SourceFile("h"), ({}, {})) is not None

    assert take(good)
    line = good[0]
    for bad in ('{"f": "x", ' + line[1:], line[:-1] + ', "key": null}',
                line.replace('"f": "', '"f": "\\u003a'), line + " " + line):
        assert not take([bad, good[1], ""][: 3 if bad.count("{") > 1 else 2]), bad
    assert not take([line + " " + line.replace(", ", ",", 1)[:60], line[60:]])
    assert not take(line.replace(", ", ",\n", 1).split("\n"))


def test_files_in_small_blocks_agree(tmp_path: Path) -> None:
    lines = [dump_op(Op(i, i % 4, "read", i % 5 or None, 10 * i, 10 * i + 5, Outcome.OK,
                        f"k{i % 3}")) for i in range(200)]
    lines[57] = MUTATIONS[0](lines[57])
    lines[120] = ""
    path = tmp_path / "h.jsonl"
    path.write_text("\n".join(lines) + "\n")
    old = lines_module._BLOCK
    lines_module._BLOCK = 700
    try:
        with pytest.raises(HistoryError) as fast:
            read_jsonl(path)
        with pytest.raises(HistoryError) as strict:
            jsonl.read_jsonl_strict(path)
    finally:
        lines_module._BLOCK = old
    assert str(fast.value) == str(strict.value)


def test_without_msgspec_the_pattern_path_reads(monkeypatch: pytest.MonkeyPatch) -> None:
    text = "".join(dump_op(Op(i, 0, "read", i, 2 * i, 2 * i + 1, Outcome.OK)) + "\n"
                   for i in range(50))
    with_msgspec = outcome(parse_jsonl, text)
    monkeypatch.setattr(jsonl, "_decoder", None)
    monkeypatch.setitem(sys.modules, "msgspec", None)  # import msgspec: ImportError
    assert jsonl._block_decoder() is None
    assert outcome(parse_jsonl, text) == with_msgspec == outcome(parse_jsonl_strict, text)
    assert with_msgspec[0] == "ok"


def test_msgspec_is_imported_only_to_read() -> None:
    probe = ("import sys, faultlab, faultlab.history, faultlab.history.jsonl\n"
             "print('msgspec' in sys.modules)\n")
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                          timeout=60, check=True)
    assert done.stdout.strip() == "False"
