"""Checking a history file: the entry point for ``faultlab check history.jsonl --model ...``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from faultlab.check.linear import Budget, check_linearizable
from faultlab.check.models import Model, get_model
from faultlab.check.result import CheckResult, ModelError
from faultlab.history import History, read_edn_history, read_jsonl

__all__ = ["check_file", "read_history"]


def read_history(path: str | Path, *, independent: bool = False) -> History:
    """``.edn``: a Jepsen history; ``.txt``/``.log``: Jepsen's textual history or log lines;
    anything else: faultlab JSON Lines."""
    if str(path).endswith(".edn"):
        return read_edn_history(path, independent=independent)
    if str(path).endswith((".txt", ".log")):
        from faultlab.history.jepsen_text import read_text_history

        return read_text_history(path, independent=independent)
    return read_jsonl(path)


def check_file(path: str | Path, model: str | Model[Any] = "cas-register",
               budget: Budget | None = None) -> CheckResult:
    """Check the history in ``path`` for linearizability against ``model``.

    Raises :class:`~faultlab.history.HistoryError` (one-line problems with file:line:column)
    for an unreadable or invalid file, and :class:`ModelError` for an unknown model name or
    operations the model cannot interpret; both are ``ValueError``: print ``str(exc)``.
    """
    if isinstance(model, str):
        try:
            model = get_model(model)
        except ValueError as exc:
            raise ModelError(str(exc)) from None
    return check_linearizable(read_history(path), model, budget)
