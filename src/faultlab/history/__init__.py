"""Histories: what the clients of a workload did, as invocations and completions.

The file format is JSON Lines, one *paired* operation per line (invocation and completion
together), written when the operation completes::

    {"index": 7, "process": 2, "f": "cas", "key": "k1", "value": [1, 2],
     "invoke_ns": 1500000000, "complete_ns": 1500300000, "outcome": "ok"}

``docs/history.md`` documents every field, the structural rules, the Jepsen formats and the
exit codes of ``faultlab check``. In short (unknown fields are errors):

``index``        integer ≥ 0, unique: identifies the operation (optional; defaults to the
                 operation's position in the file)
``process``      integer client id, or a name for a fault injector (``"nemesis"``); a process is
                 single-threaded: it invokes its next operation only after the previous completed
``f``            the function: ``read``, ``write``, ``cas``, ``add``, ``enqueue``, ``dequeue``,
                 ``incr``, ``transfer``, ``acquire``, ``release``, ``generate``, ... (any string)
``key``          optional string or integer: the object operated on (checkers partition by it)
``value``        any JSON value (finite numbers): for ``ok`` what the completion reported (a
                 read's result; the value written), for ``fail``/``info`` what was invoked
                 (``null`` for a read). ``cas`` takes ``[expected, new]``
``invoke_ns``    integer nanoseconds (0 to 2**62-1) on one monotonic clock, when the client sent
                 the operation
``complete_ns``  integer nanoseconds ≥ ``invoke_ns`` when the client learned the outcome; may be
                 ``null`` (or absent) only for ``info``: it never completed before the run ended
``outcome``      ``"ok"`` (it happened, between invoke and complete), ``"fail"`` (it certainly did
                 not happen), ``"info"`` (unknown: it may take effect at any time after
                 ``invoke_ns``, or never; its completion counts as +infinity)
``error``        optional string: why it failed or is unknown

A history has at least one operation: an empty file is an error, not a valid history
(:mod:`faultlab.history.rules` holds the rules every format shares).

Why paired rather than Jepsen's two events per operation: every checker needs the pairs,
each line is complete on its own, and there is no pairing to get wrong. Jepsen's EDN event
form is imported and exported by :mod:`faultlab.history.jepsen`, its text forms imported by
:mod:`faultlab.history.jepsen_text`.

Public API: :class:`Op`, :class:`Outcome`, :class:`Source`, :class:`History`,
:func:`read_jsonl`, :func:`parse_jsonl`, :func:`write_jsonl`, :func:`dump_op`,
:class:`Recorder`, :class:`OpHandle`, :func:`read_edn_history`, :func:`parse_edn_history`,
:func:`to_edn`, :func:`write_edn_history`, :class:`HistoryError`, :class:`HistoryProblem`.
"""

from faultlab.history.errors import HistoryError, HistoryProblem
from faultlab.history.jepsen import (
    parse_edn_history,
    read_edn_history,
    to_edn,
    write_edn_history,
)
from faultlab.history.jsonl import dump_op, parse_jsonl, read_jsonl, write_jsonl
from faultlab.history.model import History, Key, Op, Outcome, Process, Source, Value
from faultlab.history.recorder import OpHandle, Recorder

__all__ = [
    "History",
    "HistoryError",
    "HistoryProblem",
    "Key",
    "Op",
    "OpHandle",
    "Outcome",
    "Process",
    "Recorder",
    "Source",
    "Value",
    "dump_op",
    "parse_edn_history",
    "parse_jsonl",
    "read_edn_history",
    "read_jsonl",
    "to_edn",
    "write_edn_history",
    "write_jsonl",
]
