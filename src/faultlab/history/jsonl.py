"""The JSON Lines history file: the only place history lines become :class:`Op` objects.

One operation per line, paired (invocation and completion together), written when the
operation completes; the format is documented field by field in ``docs/history.md`` (and
briefly in :mod:`faultlab.history`). The reader streams: each line is checked as it is read,
against its own fields and against the rules every history obeys
(:mod:`faultlab.history.rules`: one open operation per process, an empty history is an
error, ...), so a mistake near the top of a huge file is reported without reading the rest.
It never raises anything but :class:`HistoryError`, whose problems are one line each with
file:line:column and a hint.
"""

from __future__ import annotations

import gc
import itertools
import json
import math
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any, Literal

from faultlab.history.errors import HistoryError, HistoryProblem, suggest
from faultlab.history.lines import file_blocks, text_blocks
from faultlab.history.model import History, Op, Outcome, Source, SourceFile, Value
from faultlab.history.rules import (
    MAX_DEPTH,
    MAX_TIME_NS,
    Problems,
    Rule,
    Timeline,
    completion_before_invocation,
    no_operations,
)
from faultlab.history.values import Flag

__all__ = ["FIELDS", "dump_op", "parse_jsonl", "parse_jsonl_strict", "read_jsonl",
           "read_jsonl_strict", "to_json_value", "write_jsonl"]

FIELDS = ("index", "process", "f", "key", "value", "invoke_ns", "complete_ns", "outcome",
          "error")
_REQUIRED = ("process", "f", "invoke_ns", "outcome")


class _Bad(Exception):
    def __init__(self, field: str | None, message: str | Rule, hint: str = "",
                 last: bool = False) -> None:
        rule = message if isinstance(message, Rule) else Rule(message, hint)
        super().__init__(rule.message)
        self.field, self.message, self.hint, self.last = field, rule.message, rule.hint, last


def read_jsonl(path: str | Path) -> History:
    """Read a history file; raises :class:`HistoryError` for unreadable or invalid input."""
    return _parse_blocks(file_blocks(path), str(path))


def parse_jsonl(text: str, file: str = "<history>") -> History:
    """Parse JSON Lines history text (``file`` only names the source in problems)."""
    return _parse_blocks(text_blocks(text), file)


def read_jsonl_strict(path: str | Path) -> History:
    """:func:`read_jsonl` by the general reader only: the reference the fast path is
    tested and benchmarked against (same operations, same problems)."""
    return _parse_blocks(file_blocks(path), str(path), fast=False)


def parse_jsonl_strict(text: str, file: str = "<history>") -> History:
    """:func:`parse_jsonl` by the general reader only (see :func:`read_jsonl_strict`)."""
    return _parse_blocks(text_blocks(text), file, fast=False)


# The fast path: a line exactly as dump_op writes it, with values of the common shapes (null,
# integers, strings without escapes, arrays of integers). Such a line has no duplicate field,
# no non-finite number, and every field of the right JSON type, so only the checks on values
# (time range and order, a completion for ok/fail) remain; any other line (and any line
# these checks refuse) goes to the general reader, which says what is wrong. The pattern
# runs over a whole block of lines at once (``^``/``$`` at line ends; nothing in it matches a
# line break, so a match is one whole line): when it finds as many matches as the block has
# lines, each line is its match, in order; otherwise the block goes line by line.
_NAT = r"(?:0|[1-9][0-9]*)"
_INT = r"-?" + _NAT
_STR = r'"[^"\\\x00-\x1f]*"'
_LINE = (
    r'\{"index": (' + _NAT + r'), "process": (' + _INT + r'), "f": ("[^"\\\x00-\x1f]+"), '
    r'(?:"key": (' + _INT + "|" + _STR + r'), )?'
    r'"value": (null|' + _INT + "|" + _STR + r"|\[(?:" + _INT + r"(?:, " + _INT + r")*)?\]), "
    r'"invoke_ns": (' + _NAT + r'), "complete_ns": (' + _NAT + r'|null), '
    r'"outcome": "(ok|fail|info)"(?:, "error": (' + _STR + r'))?\}')
_FAST = re.compile(_LINE + r"\Z")
_FAST_BLOCK = re.compile(r"^" + _LINE + r"$", re.MULTILINE)
_OUTCOMES = {o.value: o for o in Outcome}
_CACHED = 4096  # distinct value texts kept parsed (values repeat: a few per key)
_MISSING: Any = object()


def _fast_value(raw: str, values: dict[str, Value]) -> Value:
    """The value of a line ``_FAST`` matched, from its text (kept in ``values``, a few
    thousand at most: values repeat, a few per key)."""
    first = raw[0]
    value: Value
    if first == "n":
        value = None
    elif first == '"':
        value = raw[1:-1]
    elif first == "[":
        value = tuple(map(int, raw[1:-1].split(", "))) if len(raw) > 2 else ()
    else:
        value = int(raw)
    if len(values) < _CACHED:
        values[raw] = value
    return value


#: Whether the fast path decodes blocks with msgspec when it is installed; off (or without
#: msgspec), it takes the pattern above, line by line where a block does not match whole.
#: Either way the same operations and the same problems (tests/history/test_jsonl_decoder.py).
USE_MSGSPEC = True
_decoder: Any = None  # msgspec's decoder of blocks of lines, built when first needed
_COLONS = 7  # the ':' of the fields every decoded line has (all but key and error)


def _block_decoder() -> Callable[[str], list[Any]] | None:
    """``decode_lines`` of the one decoder of lines, or None without msgspec. It is imported
    here, when a history is first read, not with faultlab: commands that read no history
    start without it."""
    global _decoder
    if _decoder is None:
        try:
            import msgspec
        except ImportError:
            _decoder = False
        else:
            class _Line(msgspec.Struct, forbid_unknown_fields=True, gc=False):
                index: int
                process: int
                f: str
                value: int | str | tuple[int, ...] | None
                invoke_ns: int
                complete_ns: int | None
                outcome: Literal["ok", "fail", "info"]
                key: int | str | None = None
                error: str | None = None

            _decoder = msgspec.json.Decoder(_Line).decode_lines
    return _decoder or None


def _decode_block(decode: Callable[[str], list[Any]], text: str, count: int, first: int,
                  read: SourceFile, shared: tuple[dict[Any, Any], dict[Any, Any]]
                  ) -> list[Op | None] | None:
    """The operations of the ``count`` lines of ``text`` (joined by line breaks, the first
    numbered ``first``) decoded at once by msgspec: None for a line whose values the general
    reader must judge (times out of range or order, a negative index, an empty f, ...), or
    None for the whole block when anything in it is unusual, so that it goes line by line.

    msgspec is laxer than the general reader in ways a block must be refused for:
    - it streams JSON values: an object may span lines, and a line may hold two (with a
      blank line elsewhere, the counts still agree). So every line must end with ``}``: a
      line break inside a string is not JSON, and values hold no objects (the fields are
      typed, unknown ones are refused), so a ``}`` ending a line closes its line's object;
      every line then ends an object and none spans lines, and as many objects as lines
      means one a line, in order;
    - a duplicate field's last value wins silently (the general reader reports it). The
      block must hold no backslash, and as many ':' as its lines' fields plus the ':' in
      their strings. Without escapes a string's text is its value; in JSON every ':'
      outside strings ends a field name, and in a decoded line the fields are those of the
      struct: at least the 7 required, plus key and error when not null, each once or more.
      So the ':' of the block are at least 7 a line, plus a key and an error not null,
      plus the ':' inside the values of f, key, value and error (the field names have
      none), with equality exactly when no field appears twice and no ``"key": null`` or
      ``"error": null`` is written (those go line by line too: slower, not wrong). When
      the ':' are as few as the fields alone need, no string holds one and the strings need
      not be looked at;
    - integers may be negative where the general reader wants naturals (index and times:
      checked below) and large (to ``sys.get_int_max_str_digits()`` digits, as ``int()``).
    Any msgspec complaint (or a lone surrogate) also sends the block line by line.
    """
    if "\\" in text or not text.endswith("}") or text.count("}\n") != count - 1:
        return None
    try:
        decoded = decode(text)
    except Exception:  # whatever msgspec refuses (or a lone surrogate): the general reader
        return None
    if len(decoded) != count:
        return None
    outcomes, info, top = _OUTCOMES, Outcome.INFO, MAX_TIME_NS
    fields = _COLONS * count
    out: list[Op | None] = []
    append = out.append
    names, values = shared
    # One object for each of the (few) names and values, for less memory: the caches grow
    # by a block at most past _CACHED.
    name = names.setdefault if len(names) < _CACHED else _same
    same = values.setdefault if len(values) < _CACHED else _same
    for number, line in enumerate(decoded, first):
        key = line.key
        if key is not None:
            fields += 1
            key = name(key, key)
        error = line.error
        if error is not None:
            fields += 1
        start, end, index, f = line.invoke_ns, line.complete_ns, line.index, line.f
        kind = outcomes[line.outcome]
        if index >= 0 and f and 0 <= start <= top and (
                start <= end <= top if end is not None else kind is info):
            value = line.value
            append(Op(index, line.process, name(f, f), value if value is None else
                      same(value, value), start, end, kind, key, error, read, number))
        else:
            append(None)
    colons = text.count(":")
    if colons != fields and colons != fields + sum(
            _colons(line.f) + _colons(line.key) + _colons(line.value) + _colons(line.error)
            for line in decoded):
        return None
    return out


def _same(key: Any, value: Any) -> Any:
    return value


def _colons(raw: object) -> int:
    return raw.count(":") if isinstance(raw, str) else 0


def _parse(lines: Iterator[tuple[int, str]], file: str, fast: bool = True) -> History:
    """The history of numbered lines, read one at a time (see :func:`_parse_blocks`)."""
    return _parse_blocks(((number, [line]) for number, line in lines), file, fast)


def _parse_blocks(blocks: Iterator[tuple[int, list[str]]], file: str, fast: bool = True
                  ) -> History:
    """The history of blocks of numbered lines; reading stops a few lines past the first
    problems (:meth:`Problems.enough`), at the end of the block that holds them."""
    problems = Problems(file)
    timeline = Timeline(ordered=False)  # lines are in completion order, or any order
    ops: list[Op] = []
    # Which indexes are taken: a bitmap while they stay near 0..len(ops), else a dict of
    # index -> line (a dict for every one of a million operations would cost ~100 MB).
    taken = bytearray(1024)
    far: dict[int, int] = {}
    names: dict[str, Any] = {}
    values: dict[str, Value] = {}
    add, append = timeline.add, ops.append
    read = SourceFile(file)  # shared: each op holds it and its line, not a Source
    no_groups, outcomes, info, top = (), _OUTCOMES, Outcome.INFO, MAX_TIME_NS
    match, find = _FAST.match, _FAST_BLOCK.findall
    decode = _block_decoder() if fast and USE_MSGSPEC else None
    shared: tuple[dict[Any, Any], dict[Any, Any]] = ({}, {})  # msgspec's names, values
    items = problems.items
    paused = gc.isenabled()
    gc.disable()  # see below
    try:
        for first, lines in blocks:
            found: list[Any] | None = None
            built = False
            if decode is not None:
                found = _decode_block(decode, "\n".join(lines), len(lines), first, read,
                                      shared)
                built = found is not None
            if found is None:
                found = find("\n".join(lines)) if fast and decode is None else []
            if len(found) != len(lines):  # some line is unusual: each on its own
                found = []
                for line in lines:
                    one = match(line) if fast else None
                    found.append(no_groups if one is None else one.groups())
            for number, line, groups in zip(itertools.count(first), lines, found):
                if items and problems.enough(number):
                    raise _Enough
                op = None
                if built:  # decoded by msgspec (None: the line is the general reader's)
                    op = groups
                elif groups:  # _fast_line, inline: a call per line costs a tenth of the time
                    at, who, f, key, raw, invoke, complete, outcome, error = groups
                    try:
                        start = int(invoke)
                        end = None if complete == "null" else int(complete)
                        kind = outcomes[outcome]
                        if start <= top and (start <= end <= top if end is not None
                                             else kind is info):
                            value = values.get(raw, _MISSING)
                            if value is _MISSING:
                                value = _fast_value(raw, values)
                            name = names.get(f)
                            if name is None:
                                name = names[f] = f[1:-1]
                            key_value: Any = None
                            if key:
                                key_value = names.get(key)
                                if key_value is None:
                                    key_value = names[key] = (key[1:-1] if key[0] == '"'
                                                              else int(key))
                            op = Op(int(at), int(who), name, value, start, end, kind,
                                    key_value, error[1:-1] if error else None,
                                    read, number)
                    except ValueError:  # e.g. an integer of more than 4300 digits
                        op = None
                if op is None:
                    if not line.strip():
                        continue
                    try:
                        op = _parse_line(line, len(ops), Source(file, number))
                    except _Bad as bad:
                        problems.add(number, _column(line, bad.field, bad.last),
                                     Rule(bad.message, bad.hint))
                        continue
                index = op.index
                if index < 8 * (len(ops) + 1024):  # (the bitmap may grow over indexes in far)
                    if index >= len(taken):
                        taken.extend(bytes(max(index + 1 - len(taken), len(taken))))
                    if taken[index] or (far and index in far):
                        _duplicate(problems, line, number, index, ops)
                        continue
                    taken[index] = 1
                elif index in far:
                    _duplicate(problems, line, number, index, ops)
                    continue
                else:
                    far[index] = number
                broken = add(op)
                if broken is not None:
                    problems.add(number, 1, broken)
                append(op)
    except _Enough:
        pass
    except HistoryError as exc:  # the file could not be read on
        raise problems.absorb(exc) from None
    finally:
        # The collector of reference cycles is paused while lines become operations: they
        # hold no cycles, and a million of them would be walked again and again by full
        # collections (a third of the reading time).
        if paused:
            gc.enable()
    for op, rule in timeline.finish(ops):
        problems.add(op.source.line if op.source else 1, 1, rule)
    problems.check()
    if not ops:
        rule = no_operations("no line holds an operation")
        raise HistoryError([HistoryProblem(file, 1, 1, rule.message, rule.hint)])
    return History(tuple(ops))


class _Enough(Exception):
    """Reading on can add nothing worth the wait (see :meth:`Problems.enough`)."""


def _duplicate(problems: Problems, line: str, number: int, index: int, ops: list[Op]) -> None:
    earlier = next(op.source.line for op in ops if op.index == index and op.source)
    problems.add(number, _column(line, "index"), Rule(
        f"index {index} is already the index of the operation on line {earlier}",
        "each operation has its own index; leave index out to number operations in line "
        "order"))


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in pairs:
        if k in out:
            raise _Bad(k, f"field {k!r} appears twice", "keep one of them", last=True)
        out[k] = v
    return out


def _no_constant(name: str) -> Any:
    raise _Bad(None, f"{name} is not a JSON number", "write null or a finite number")


def _finite(text: str) -> float:
    number = float(text)
    if not math.isfinite(number):
        raise _Bad(None, f"number {text[:40]} is too large to be a usable number",
                   "numbers are finite, at most about 1.8e308")
    return number


# One decoder for every line (json.loads with hooks would build one per call).
_DECODER = json.JSONDecoder(object_pairs_hook=_no_duplicates, parse_constant=_no_constant,
                            parse_float=_finite)


def _column(line: str, field: str | None, last: bool = False) -> int:
    if field is None:
        return 1
    found = list(re.finditer(r'"' + re.escape(field) + r'"\s*:', line))
    return (found[-1] if last else found[0]).start() + 1 if found else 1


def _parse_line(line: str, position: int, source: Source) -> Op:
    try:
        data = _DECODER.decode(line)
    except json.JSONDecodeError as exc:
        raise _Bad(None, f"not JSON: {exc.msg} at column {exc.colno}",
                   "each line must be one JSON object describing one operation") from None
    except ValueError as exc:  # e.g. an integer of more than 4300 digits
        raise _Bad(None, f"not a usable JSON value: {exc}", "use numbers of ordinary size"
                   ) from None
    except RecursionError:
        raise _Bad(None, "JSON nested too deeply", "values are nested at most a few hundred "
                   "levels") from None
    if not isinstance(data, dict):
        raise _Bad(None, f"expected a JSON object, found {_kind(data)}",
                   'write {"process": 0, "f": "read", ...} on each line')
    for field in data:
        if field not in FIELDS:
            raise _Bad(field, f"unknown field {field!r}", suggest(field, FIELDS))
    for field in _REQUIRED:
        if field not in data:
            raise _Bad(None, f"missing field {field!r}", "each operation needs "
                       + ", ".join(_REQUIRED))
    outcome = _outcome(data["outcome"])
    invoke = _time(data, "invoke_ns")
    complete = _time(data, "complete_ns") if data.get("complete_ns") is not None else None
    if complete is None and outcome is not Outcome.INFO:
        raise _Bad("outcome", f"an '{outcome.value}' operation needs complete_ns",
                   "only an 'info' operation may lack a completion time")
    if complete is not None and complete < invoke:
        raise _Bad("complete_ns", completion_before_invocation(complete, invoke))
    f = data["f"]
    if not isinstance(f, str) or not f:
        raise _Bad("f", f"f must be a non-empty string, found {_kind(f)}", 'e.g. "read"')
    index = data.get("index", position)
    if not _is_int(index) or index < 0:
        raise _Bad("index", f"index must be a non-negative integer, found {_kind(index)}")
    process = data["process"]
    if not (_is_int(process) or (isinstance(process, str) and process.strip())):
        raise _Bad("process", f"process must be an integer or a name, found {_kind(process)}",
                   'clients are numbered; fault injectors are named, e.g. "nemesis"')
    if isinstance(process, str) and process.strip().lstrip("-").isdigit():
        raise _Bad("process", f"process {_kind(process)} is a name that looks like a number",
                   'clients are numbered (write "process": 0); fault injectors are named, '
                   'e.g. "nemesis"')
    key = data.get("key")
    if key is not None and not (_is_int(key) or isinstance(key, str)):
        raise _Bad("key", f"key must be a string or an integer, found {_kind(key)}")
    error = data.get("error")
    if error is not None and not isinstance(error, str):
        raise _Bad("error", f"error must be a string, found {_kind(error)}")
    value = _value(data.get("value"), 0)
    return Op(index, process, f, value, invoke, complete, outcome, key, error, source)


def _outcome(raw: Any) -> Outcome:
    try:
        return Outcome(raw)
    except (ValueError, TypeError):
        word = raw if isinstance(raw, str) else str(raw)
        raise _Bad("outcome", f"unknown outcome {_kind(raw)}",
                   suggest(word, [o.value for o in Outcome])) from None


def _time(data: dict[str, Any], field: str) -> int:
    raw = data[field]
    if not _is_int(raw) or not 0 <= raw <= MAX_TIME_NS:
        raise _Bad(field, f"{field} must be an integer from 0 to {MAX_TIME_NS}, found "
                   f"{_kind(raw)}", "times are integer nanoseconds, e.g. 1500000000 for 1.5 s")
    return int(raw)


def _is_int(raw: object) -> bool:
    return isinstance(raw, int) and not isinstance(raw, bool)


def _kind(raw: object) -> str:
    text = json.dumps(raw) if isinstance(raw, (str, int, float, bool, type(None))) else None
    if text is not None and len(text) <= 40:
        return text
    kinds: dict[type, str] = {dict: "an object", list: "an array", str: "a long string"}
    return kinds.get(type(raw), "a value")


def _value(raw: Any, depth: int) -> Value:
    """JSON arrays become tuples, objects dicts; scalars stay as they are."""
    if depth > MAX_DEPTH:
        raise _Bad("value", f"value nested more than {MAX_DEPTH} levels deep",
                   "values are nested at most a few hundred levels")
    if isinstance(raw, list):
        return tuple(_value(v, depth + 1) for v in raw)
    if isinstance(raw, dict):
        return {k: _value(v, depth + 1) for k, v in raw.items()}
    return raw  # type: ignore[no-any-return]


def to_json_value(value: Value) -> Any:
    """The JSON form of a value read or recorded (canonical values too); sets become sorted
    arrays where sortable."""
    if isinstance(value, Flag):
        return value.value
    if isinstance(value, tuple):
        return [to_json_value(v) for v in value]
    if isinstance(value, frozenset):
        items = [to_json_value(v) for v in value]
        try:
            return sorted(items)
        except TypeError:
            return items
    if isinstance(value, Mapping):
        return {str(k): to_json_value(v) for k, v in value.items()}
    return value


def dump_op(op: Op) -> str:
    """One history line for ``op`` (no trailing newline)."""
    data: dict[str, Any] = {"index": op.index, "process": op.process, "f": op.f}
    if op.key is not None:
        data["key"] = op.key
    data["value"] = to_json_value(op.value)
    data["invoke_ns"] = op.invoke_ns
    data["complete_ns"] = op.complete_ns
    data["outcome"] = op.outcome.value
    if op.error is not None:
        data["error"] = op.error
    return json.dumps(data, separators=(", ", ": "))


def write_jsonl(ops: Iterable[Op], path: str | Path) -> None:
    """Write ``ops`` as a history file, one line each."""
    with Path(path).open("w", encoding="utf-8") as out:
        for op in ops:
            out.write(dump_op(op) + "\n")
