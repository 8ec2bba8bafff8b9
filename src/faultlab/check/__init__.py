"""Checkers: read a history, return a verdict with evidence.

- :func:`check_linearizable` / :func:`check_file`: linearizability against a :class:`Model`
  (built-ins in :data:`MODELS`; see :mod:`faultlab.check.models` to write your own), by the
  Wing–Gong–Lowe search in :mod:`faultlab.check.linear`.
- Linear-time checkers: :func:`check_set`, :func:`check_queue`, :func:`check_unique_ids`,
  :func:`check_counter`, :func:`check_bank`.

Every checker returns a :class:`CheckResult`: valid, invalid, or unknown (the budget ran out,
or there was nothing to check: an empty or all-failed history proves nothing). Every checker
takes any JSON value (compared in the canonical form of :mod:`faultlab.history.values`).
Exceptions mean bad input (:class:`~faultlab.history.HistoryError`, :class:`ModelError`, both
``ValueError``, one line each, located at file:line:column when read from a file).
"""

from faultlab.check.collections import check_queue, check_set, check_unique_ids
from faultlab.check.files import check_file, read_history
from faultlab.check.linear import Budget, check_linearizable
from faultlab.check.models import MODELS, Model, by_key, get_model
from faultlab.check.numeric import check_bank, check_counter
from faultlab.check.result import (
    Anomaly,
    AnomalyKind,
    CheckResult,
    ModelError,
    Stuck,
    Verdict,
    Violation,
)

__all__ = [
    "MODELS",
    "Anomaly",
    "AnomalyKind",
    "Budget",
    "CheckResult",
    "Model",
    "ModelError",
    "Stuck",
    "Verdict",
    "Violation",
    "by_key",
    "check_bank",
    "check_counter",
    "check_file",
    "check_linearizable",
    "check_queue",
    "check_set",
    "check_unique_ids",
    "get_model",
    "read_history",
]
