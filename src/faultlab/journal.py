"""The journal: the append-only record of a run, and the only place run events become JSON.

One JSON object per line, written and flushed per event; events that recovery depends on
(a fault about to be applied, a process started) are also fsynced, so that after a SIGKILL
``faultlab recover`` sees every fault that may be active. The reader tolerates a torn last
line. Every event passes through a :class:`Redactor` first: secrets never reach the disk.
"""

from __future__ import annotations

import json
import math
import os
import re
from collections.abc import Iterable, Iterator, Mapping
from enum import Enum, StrEnum
from pathlib import Path
from typing import IO, Any

from faultlab.clock import Clock

__all__ = ["Event", "Journal", "Redactor", "UnresolvedSecret", "read_journal", "resolve"]

JOURNAL_NAME = "journal.jsonl"


class Event(StrEnum):
    RUN_STARTED = "run_started"
    SERVICE_STARTING = "service_starting"  # intent, journaled before the spawn
    SERVICE_STARTED = "service_started"
    SERVICE_STOPPED = "service_stopped"
    LAB_STARTING = "lab_starting"  # intent, journaled before the lab exists
    LAB_UP = "lab_up"
    LAB_DOWN = "lab_down"
    PROXY_SERVER_STARTING = "proxy_server_starting"  # intent, journaled before the spawn
    PROXY_SERVER_STARTED = "proxy_server_started"
    PROXY_SERVER_STOPPED = "proxy_server_stopped"
    PHASE = "phase"
    FAULT_INTENT = "fault_intent"  # journaled, with its undo, before the fault is applied
    FAULT_INJECTED = "fault_injected"
    FAULT_INJECT_FAILED = "fault_inject_failed"
    FAULT_REVERTED = "fault_reverted"
    FAULT_CLOSED = "fault_closed"  # nothing to revert: its inject certainly did not apply it
    PLAN = "plan"  # the fault plan (fixed or drawn from the seed)
    REVERT_FAILED = "revert_failed"
    SECOND = "second"  # one completed second of workload statistics
    EVALUATION = "evaluation"  # an SLO clause evaluated over one window
    GENERATOR_LAG = "generator_lag"
    ABORT = "abort"
    INTERRUPTED = "interrupted"
    CHECK = "check"  # a checker's verdict on the recorded history
    VERDICT = "verdict"
    RUN_ENDED = "run_ended"
    RECOVERED = "recovered"
    TEARDOWN_STARTED = "teardown_started"
    TEARDOWN = "teardown"  # what tear-down found and did, measured
    NOTE = "note"


_SENSITIVE_KEY = re.compile(r"(authorization|cookie|token|secret|password|passwd|api[-_]?key)",
                            re.IGNORECASE)
# The password runs to the *last* '@' before the host, so one containing '@' is masked whole.
_URL_USERINFO = re.compile(r"(?P<scheme>[a-z][a-z0-9+.-]*://)(?P<user>[^:/@\s]+):[^/\s]*@",
                           re.IGNORECASE)
_QUERY_SECRET = re.compile(
    r"(?P<k>[?&](?:access_token|token|api_key|apikey|key|password|secret|sig)=)[^&#\s]+",
    re.IGNORECASE)
MASK = "***"


class Redactor:
    """Removes secrets from values before they are written anywhere.

    Three rules: (1) values of keys that name a secret (Authorization, token, password, ...)
    are masked whole; (2) passwords in URLs and secret-looking query parameters are masked;
    (3) any value read from the environment through ``${env:NAME}`` is replaced, wherever it
    appears inside a string (or as a whole number), by the reference ``${env:NAME}`` itself:
    the secret never reaches the disk, and an undo record stays executable, because
    ``faultlab recover`` resolves the reference from its own environment (:func:`resolve`).
    """

    def __init__(self, secrets: Mapping[str, str] | Iterable[str] = ()) -> None:
        named = dict(secrets) if isinstance(secrets, Mapping) else dict.fromkeys(secrets, "")
        self.secrets = {v: (f"${{env:{n}}}" if n else MASK) for v, n in named.items()
                        if len(v) >= 3}
        self._order = sorted(self.secrets, key=len, reverse=True)

    def text(self, value: str) -> str:
        for s in self._order:
            if s in value:
                value = value.replace(s, self.secrets[s])
        value = _URL_USERINFO.sub(lambda m: f"{m['scheme']}{m['user']}:{MASK}@", value)
        return _QUERY_SECRET.sub(lambda m: f"{m['k']}{MASK}", value)

    def value(self, value: Any) -> Any:
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, dict):
            return {(self.text(k) if isinstance(k, str) else k):
                    (MASK if isinstance(k, str) and _SENSITIVE_KEY.search(k)
                     and isinstance(v, str | bytes) else self.value(v))
                    for k, v in value.items()}
        if isinstance(value, list | tuple):
            if (len(value) == 2 and isinstance(value[0], str) and isinstance(value[1], str)
                    and _SENSITIVE_KEY.search(value[0])):
                return [value[0], MASK]  # a header given as a (name, value) pair
            return [self.value(v) for v in value]
        if isinstance(value, Enum):
            return value.value
        if isinstance(value, float) and not math.isfinite(value):
            return None  # JSON has no NaN or Infinity
        if isinstance(value, int | float) and not isinstance(value, bool) and self.secrets:
            text = str(value)
            if text in self.secrets or (isinstance(value, float) and repr(value) in self.secrets):
                return self.secrets.get(text, MASK)
        return value


_ENV_REF = re.compile(r"\$\{env:([A-Za-z_][A-Za-z0-9_]*)\}")


class UnresolvedSecret(Exception):
    """A journaled ``${env:NAME}`` reference whose variable is not set now."""


def resolve(value: Any, environ: Mapping[str, str] | None = None) -> Any:
    """Put secrets back into a journaled value: each ``${env:NAME}`` from the environment."""
    env = os.environ if environ is None else environ
    if isinstance(value, str):
        def sub(m: re.Match[str]) -> str:
            if m.group(1) not in env:
                raise UnresolvedSecret(
                    f"the run read {m.group(1)} from its environment; set it as for the run "
                    "and try again")
            return env[m.group(1)]
        return _ENV_REF.sub(sub, value)
    if isinstance(value, dict):
        return {k: resolve(v, env) for k, v in value.items()}
    if isinstance(value, list):
        return [resolve(v, env) for v in value]
    return value


class Journal:
    """Append-only JSONL writer. ``t`` is seconds since the run's origin (monotonic clock);
    ``wall`` is Unix time for people."""

    def __init__(self, path: Path, clock: Clock, origin: float, redactor: Redactor) -> None:
        self.path = path
        self._clock = clock
        self.origin = origin
        self._redactor = redactor
        self._file: IO[str] | None = open(path, "a", encoding="utf-8")  # noqa: SIM115

    def write(self, event: Event, *, durable: bool = False, **fields: Any) -> dict[str, Any]:
        _check_fields(event, fields)
        record = {"event": event.value, "t": round(self._clock.now() - self.origin, 6),
                  "wall": round(self._clock.wall(), 6), **fields}
        record = dict(self._redactor.value(record))
        if self._file is None:
            raise RuntimeError("journal is closed")
        self._file.write(json.dumps(record, separators=(",", ":"), default=_default) + "\n")
        self._file.flush()
        if durable:
            os.fsync(self._file.fileno())
        return record

    def close(self) -> None:
        if self._file is not None:
            self._file.flush()
            os.fsync(self._file.fileno())
            self._file.close()
            self._file = None


def _check_fields(event: Event, fields: dict[str, Any]) -> None:
    """Every event's fields match its model (:mod:`faultlab.events`): a writer's mistake
    shows in its tests, not in a recovery."""
    from faultlab.events import EVENT_MODELS

    model = EVENT_MODELS.get(event)
    if model is not None:
        model.model_validate(fields)


def _default(value: Any) -> Any:
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, set | frozenset | tuple):
        return list(value)
    if isinstance(value, float):
        return None
    raise TypeError(f"cannot journal {type(value).__name__}")


def read_journal(path: Path) -> Iterator[dict[str, Any]]:
    """Events in order; a torn or corrupt line (the run was killed mid-write) is skipped."""
    with open(path, encoding="utf-8", errors="replace") as f:
        for line in f:
            try:
                record = json.loads(line)
            except json.JSONDecodeError:
                continue
            if isinstance(record, dict) and "event" in record:
                yield record
