"""Checking a history file: the entry point for ``faultlab check history.jsonl --model ...``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from faultlab.check.linear import Budget, check_linearizable
from faultlab.check.models import Model, get_model
from faultlab.check.result import CheckResult, ModelError
from faultlab.history import (
    History,
    HistoryError,
    HistoryProblem,
    read_edn_history,
    read_jsonl,
)

__all__ = ["JEPSEN_SUFFIXES", "check_file", "read_history"]


JEPSEN_SUFFIXES = (".edn", ".txt", ".log")


def read_history(path: str | Path, *, independent: bool = False) -> History:
    """``.edn``: a Jepsen history; ``.txt``/``.log``: Jepsen's textual history or log lines;
    anything else: faultlab JSON Lines. Every format obeys the same rules
    (:mod:`faultlab.history.rules`; an empty history is a :class:`HistoryError`), and every
    operation carries its file position for later complaints. ``independent`` (Jepsen's
    ``[key value]`` values) applies to the Jepsen formats only: JSON Lines has a ``key``
    field, so asking for it there is a :class:`HistoryError` rather than silently ignored."""
    name = str(path)
    if name.endswith(".edn"):
        return read_edn_history(path, independent=independent)
    if name.endswith((".txt", ".log")):
        from faultlab.history.jepsen_text import read_text_history

        return read_text_history(path, independent=independent)
    if independent:
        raise HistoryError([HistoryProblem(
            name, 1, 1, "independent keys apply to Jepsen histories (.edn, .txt, .log) only",
            'a JSON Lines history gives each operation\'s key in its "key" field')])
    return read_jsonl(path)


def check_file(path: str | Path, model: str | Model[Any] = "cas-register",
               budget: Budget | None = None) -> CheckResult:
    """Check the history in ``path`` for linearizability against ``model``.

    Raises :class:`~faultlab.history.HistoryError` (one-line problems with file:line:column)
    for an unreadable, invalid or empty file, and :class:`ModelError` for an unknown model
    name or operations the model cannot interpret (located at the operation's line); both are
    ``ValueError``: print ``str(exc)``.
    """
    if isinstance(model, str):
        try:
            model = get_model(model)
        except ValueError as exc:
            raise ModelError(str(exc)) from None
    return check_linearizable(read_history(path), model, budget)
