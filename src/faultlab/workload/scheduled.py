"""``stop_at`` and ``summary`` shared by the running workloads whose arrivals one driver plans.

Kept apart from :mod:`faultlab.workload.base` so that registering a kind (which imports its
running class's module) loads nothing heavy: the summary's types are imported when asked.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from faultlab.workload.base import WorkloadSummary
    from faultlab.workload.openloop import LoadSummary

__all__ = ["Scheduled"]


class _Driver(Protocol):
    def stop_at(self, t: float) -> None: ...

    def summary(self) -> LoadSummary: ...


class Scheduled:
    """The driver (an :class:`~faultlab.workload.openloop.OpenLoop`, an HTTP load) exists
    only once the run has begun, so a stop asked before is kept and handed to it."""

    kind: str
    _driver: _Driver | None = None
    _stop: float = float("inf")

    def _drive(self, driver: _Driver) -> None:
        self._driver = driver
        driver.stop_at(self._stop)

    def stop_at(self, t: float) -> None:
        self._stop = min(self._stop, t)
        if self._driver is not None:
            self._driver.stop_at(t)

    def summary(self) -> WorkloadSummary:
        from faultlab.workload.base import WorkloadSummary
        from faultlab.workload.openloop import LoadSummary

        load = (self._driver.summary() if self._driver is not None
                else LoadSummary(0, 0, 0, 0.0, 0, False, ""))
        return WorkloadSummary(self.kind, load)
