"""The server's structured log: one JSON object per line, by default on stderr.

Every change to a proxy or a toxic (by the API, by a lease, by ``/reset``) is one line, so a
run's log shows exactly which faults were in force when.
"""

from __future__ import annotations

import datetime
import json
import sys
from typing import TextIO

__all__ = ["EventLog"]


class EventLog:
    def __init__(self, stream: TextIO | None = None) -> None:
        self._stream = stream

    def emit(self, event: str, **fields: object) -> None:
        """Write one line; a broken log stream must never take the proxy down with it."""
        now = datetime.datetime.now(datetime.UTC)
        record = {"time": now.isoformat(timespec="milliseconds"), "event": event, **fields}
        line = json.dumps(record, default=str, separators=(",", ":"))
        stream = self._stream if self._stream is not None else sys.stderr
        try:
            stream.write(line + "\n")
            stream.flush()
        except (OSError, ValueError):
            pass
