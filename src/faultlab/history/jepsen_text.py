"""Import Jepsen's textual histories: ``history.txt`` and the op lines of ``jepsen.log``.

An op event is one line ``PROCESS TYPE F VALUE [ERROR]``, its fields written as EDN
(``0 :invoke :write 3``, ``:nemesis :info :start nil``) and separated by any whitespace:
Jepsen writes tabs, logs and hand edits often have spaces, and Jepsen's and Porcupine's own
parsers accept either. In ``jepsen.log`` the fields follow a logger prefix
(``INFO [2017-03-20 12:45:01,234] jepsen worker 0 - jepsen.util 0 :invoke :write 1``); any
line without a ``PROCESS TYPE`` pair (a process number or ``:name``, then one of ``:invoke``
``:ok`` ``:fail`` ``:info``) is another log line and is skipped. ``F`` and ``VALUE`` are one
EDN form each (a missing ``VALUE`` is ``nil``); the rest of the line is the error.

Events are paired into operations exactly as for ``history.edn``
(:class:`faultlab.history.jepsen.Pairing`, with the shared rules of
:mod:`faultlab.history.rules`). Times: when every op line carries a log timestamp
(``2017-03-20 12:45:01,234``), operations get those times, in nanoseconds from the first op
line, made strictly increasing in line order (a tie or a step back moves a line 1 ns past
the one before, so the order of the lines, which is the order of the events, is kept).
Otherwise (``history.txt`` has none) the lines' positions stand in for times and operations
are described by their lines, never by invented times.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

from faultlab.history.edn import EdnSyntaxError, EdnValue, Keyword, read_one
from faultlab.history.errors import HistoryError
from faultlab.history.jepsen import Pairing
from faultlab.history.lines import file_lines, text_lines
from faultlab.history.model import History, Op, Source
from faultlab.history.rules import Rule

__all__ = ["parse_text_history", "read_text_history"]

_OP = re.compile(r"(?:^|(?<=\s))(?P<process>-?\d+|:[^\s\[\](){}\"\\;,#]+)\s+"
                 r"(?P<type>:(?:invoke|ok|fail|info))(?=\s|$)")
_STAMP = re.compile(r"(\d{4})-(\d\d)-(\d\d)[ T](\d\d):(\d\d):(\d\d)(?:[,.](\d{1,9}))?")
_EXAMPLE = "0 :invoke :read nil"


def read_text_history(path: str | Path, *, independent: bool = False) -> History:
    """Read a Jepsen ``history.txt`` or ``jepsen.log``; :class:`HistoryError` for bad input."""
    return _read(file_lines(path), str(path), independent)


def parse_text_history(text: str, file: str = "<history.txt>", *, independent: bool = False
                       ) -> History:
    """Parse Jepsen's textual history (``file`` only names the source in problems)."""
    return _read(text_lines(text), file, independent)


class _Bad(Exception):
    def __init__(self, column: int, message: str, hint: str = "") -> None:
        super().__init__(message)
        self.column, self.rule = column, Rule(message, hint)


def _read(lines: Iterator[tuple[int, str]], file: str, independent: bool) -> History:
    pairing = Pairing(file, independent=independent)
    stamps: list[int | None] = []  # per event fed: its log timestamp in ns, if any
    try:
        for number, line in lines:
            if pairing.problems.enough(number):
                break
            found = _OP.search(line)
            if found is None:
                continue
            try:
                event = _event(line, found)
            except _Bad as bad:
                pairing.problems.add(number, bad.column, bad.rule)
                continue
            pairing.feed(event, number, found.start("process") + 1)
            stamps.append(_stamp(line[:found.start()]))
    except HistoryError as exc:  # the file could not be read on
        raise pairing.problems.absorb(exc) from None
    history = pairing.finish(f"no op lines such as {_EXAMPLE}")
    if all(stamp is not None for stamp in stamps):
        return _retimed(history, [s for s in stamps if s is not None])
    return history


def _field(line: str, start: int) -> tuple[EdnValue, int] | None:
    """The EDN form that begins after ``start`` in ``line``, and where it ends."""
    try:
        found = read_one(line[start:])
    except EdnSyntaxError as exc:
        raise _Bad(start + exc.column, exc.message, exc.hint) from None
    return None if found is None else (found[0], start + found[1])


def _event(line: str, found: re.Match[str]) -> dict[EdnValue, EdnValue]:
    """The op map of an op line whose ``PROCESS TYPE`` pair is ``found``."""
    process_text, kind = found.group("process"), found.group("type")
    process: EdnValue = Keyword(process_text[1:]) if process_text.startswith(":") else \
        int(process_text)
    f = _field(line, found.end())
    if f is None:
        raise _Bad(len(line) + 1, f"expected the function (such as :read) after {kind}",
                   f"an op line is PROCESS TYPE F VALUE, e.g. {_EXAMPLE}")
    value = _field(line, f[1])
    event: dict[EdnValue, EdnValue] = {
        Keyword("process"): process, Keyword("type"): Keyword(kind[1:]),
        Keyword("f"): f[0], Keyword("value"): None if value is None else value[0]}
    rest = line[value[1]:].strip() if value is not None else ""
    if rest:
        event[Keyword("error")] = _error(rest)
    return event


def _error(text: str) -> EdnValue:
    """An error field: one EDN keyword or string as such, anything else as its text."""
    try:
        found = read_one(text)
    except EdnSyntaxError:
        return text
    if found is not None and found[1] == len(text) and isinstance(found[0], (Keyword, str)):
        return found[0]
    return text


def _stamp(prefix: str) -> int | None:
    """The log timestamp in ``prefix`` as nanoseconds since the epoch (read as UTC)."""
    found = _STAMP.search(prefix)
    if found is None:
        return None
    year, month, day, hour, minute, second, fraction = found.groups()
    try:
        at = datetime(int(year), int(month), int(day), int(hour), int(minute), int(second),
                      tzinfo=UTC)
    except ValueError:
        return None
    nanos = int((fraction or "0").ljust(9, "0"))
    return int(at.timestamp()) * 1_000_000_000 + nanos


def _retimed(history: History, stamps: list[int]) -> History:
    """``history`` (timed by event positions) timed by the events' log timestamps."""
    times: list[int] = []
    for stamp in stamps:
        relative = stamp - stamps[0]
        times.append(relative if not times or relative > times[-1] else times[-1] + 1)
    ops = []
    for op in history:
        source = op.source
        if source is not None:
            source = Source(source.file, source.line, source.column, source.end_line, True)
        ops.append(Op(op.index, op.process, op.f, op.value, times[op.invoke_ns],
                      None if op.complete_ns is None else times[op.complete_ns], op.outcome,
                      op.key, op.error, source))
    return History(tuple(ops))
