"""OpenTelemetry traces of runs, and of the requests the proxy faulted (docs/telemetry.md).

Configured by the standard variables only (``OTEL_EXPORTER_OTLP_ENDPOINT`` and friends,
:mod:`faultlab.telemetry.config`); with none set, nothing is exported and the SDK is never
imported. The run's tree is built from its journal (:mod:`~faultlab.telemetry.tree`) and
exported at its end (:mod:`~faultlab.telemetry.export`); the proxy server's spans come
from :mod:`~faultlab.telemetry.proxy`.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from faultlab.telemetry.config import OtlpConfig, from_env, warn_once

if TYPE_CHECKING:
    from faultlab.run.verdict import ClauseResult

__all__ = ["OtlpConfig", "export_run", "from_env", "warn_once"]


async def export_run(journal: Path, clauses: Sequence[ClauseResult] = ()) -> bool | None:
    """Export the trace of the finished run whose journal is ``journal``: None when no
    exporting is configured, else whether the collector took it. Never raises (a warning
    on stderr instead), and returns within the exporter's deadline."""
    config = from_env()
    if config is None:
        return None
    try:
        from faultlab.journal import read_journal
        from faultlab.telemetry.export import export_plan
        from faultlab.telemetry.tree import run_tree

        plan = run_tree(read_journal(journal), clauses, journal.parent.resolve())
    except Exception as e:  # a bug, or a missing SDK: never the run's outcome
        warn_once(f"no trace exported: {type(e).__name__}: {e}", "trace")
        return False
    if plan is None:
        return False
    return await export_plan(plan, config)
