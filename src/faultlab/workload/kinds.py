"""faultlab's own workload kinds, registered here (the one place)."""

from __future__ import annotations

from typing import Any

from faultlab.workload.spec import WORKLOAD_KINDS, HistoryWorkload, HttpWorkload, WorkloadKind


def _not_built(*args: Any) -> Any:  # the runner builds these two itself for now
    raise NotImplementedError


WORKLOAD_KINDS.register(WorkloadKind("http", HttpWorkload, _not_built))
WORKLOAD_KINDS.register(WorkloadKind("history", HistoryWorkload, _not_built))
