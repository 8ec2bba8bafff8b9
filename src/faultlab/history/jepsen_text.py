"""Import Jepsen's textual histories: ``history.txt`` and the op lines of ``jepsen.log``.

Each op event is one line of tab-separated fields, ``PROCESS  TYPE  F  VALUE  [ERROR]``,
written as EDN (``0  :invoke  :write  3``, ``:nemesis  :info  :start  nil``). In
``jepsen.log`` the same fields follow a logger prefix that ends in ``jepsen.util - `` (or
any `` - ``); other log lines are skipped. Events are paired into operations exactly as for
``history.edn`` (see :mod:`faultlab.history.jepsen`); times are the line order, because the
textual forms carry none.
"""

from __future__ import annotations

from pathlib import Path

from faultlab.history.edn import EdnSyntaxError, EdnValue, Keyword, loads_all
from faultlab.history.errors import HistoryError, HistoryProblem
from faultlab.history.jepsen import _Pairing
from faultlab.history.model import History

__all__ = ["parse_text_history", "read_text_history"]

_TYPES = (":invoke", ":ok", ":fail", ":info")


def read_text_history(path: str | Path, *, independent: bool = False) -> History:
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise HistoryError([HistoryProblem(str(path), 1, 1, f"cannot read: {reason}")]
                           ) from None
    return parse_text_history(text, str(path), independent=independent)


def _op_fields(line: str) -> list[str] | None:
    """The tab-separated op fields of a line, or None when the line is not an op event.

    The process is the last word before the first tab, so a logger prefix such as
    ``INFO [...] jepsen worker 0 - jepsen.util 0`` leaves just ``0``.
    """
    fields = line.strip("\r\n").split("\t")
    if len(fields) < 3 or fields[1].strip() not in _TYPES or not fields[0].split():
        return None
    return [fields[0].split()[-1], *(f.strip() for f in fields[1:])]


def _edn(text: str, line: int, column: int, file: str) -> EdnValue:
    try:
        forms = loads_all(text)
    except EdnSyntaxError as exc:
        raise HistoryError([HistoryProblem(file, line, column + exc.column - 1, exc.message,
                                           exc.hint)]) from None
    if len(forms) != 1:
        raise HistoryError([HistoryProblem(file, line, column, f"expected one EDN value, got "
                                           f"{text!r}", "fields are separated by tabs")])
    return forms[0]


def _event(line: str, fields: list[str], number: int, file: str) -> dict[EdnValue, EdnValue]:
    """The op map of one line; each field's EDN is located at its own column."""
    starts = [line.find("\t") - len(fields[0])]  # 0-based start of each field
    for i in range(1, len(fields)):
        starts.append(line.index("\t", starts[-1] + len(fields[i - 1])) + 1)

    def value(i: int) -> EdnValue:
        text = fields[i] if i < len(fields) and fields[i] else "nil"
        return _edn(text, number, starts[i] + 1 if i < len(starts) else 1, file)

    return {Keyword("process"): value(0), Keyword("type"): value(1), Keyword("f"): value(2),
            Keyword("value"): value(3)}


def parse_text_history(text: str, file: str = "<history.txt>", *, independent: bool = False
                       ) -> History:
    forms: list[EdnValue] = []
    lines: list[int] = []
    for number, line in enumerate(text.split("\n"), start=1):
        fields = _op_fields(line)
        if fields is None:
            continue
        event = _event(line, fields, number, file)
        if len(fields) > 4 and fields[4]:
            event[Keyword("error")] = " ".join(fields[4:])
        forms.append(event)
        lines.append(number)
    if not forms:
        raise HistoryError([HistoryProblem(file, 1, 1, "no op lines found",
                                           "expected lines like: 0<TAB>:invoke<TAB>:read<TAB>nil")])
    pairing = _Pairing(file, text, independent)
    pairing.lines = lines
    return pairing.run(forms)
