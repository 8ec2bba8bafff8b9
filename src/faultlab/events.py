"""The journal's events, typed: one model per event kind.

:meth:`faultlab.journal.Journal.write` validates every event's fields against its model
before anything reaches the disk (a writer that forgets a field fails its tests, not a
recovery), and ``faultlab recover`` reads the events it acts on through the same models
(a damaged line is skipped and reported, never trusted). The models hold what recovery and
reports rely on; events may carry more (``extra`` is allowed) so that a newer faultlab's
journal still reads.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from faultlab.journal import Event

__all__ = ["EVENT_MODELS", "EventModel", "parse_event"]


class EventModel(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True, defer_build=True)


class RunStarted(EventModel):
    experiment: str
    seed: int
    pid: int | None = None  # the runner itself, with its start time
    started: int | None = None
    marker: str = ""
    spec: dict[str, Any] = Field(default_factory=dict)


class Spawning(EventModel):
    """An intent, journaled before a spawn: the spawned process carries ``marker``."""

    marker: str
    service: str | None = None
    instance: str | None = None


class Spawned(EventModel):
    pid: int = Field(gt=0)
    started: int | None = None
    marker: str = ""
    service: str | None = None
    api: str | None = None
    instance: str | None = None


class Stopped(EventModel):
    pid: int


class FaultIntent(EventModel):
    fault: str
    kind: str
    targets: list[str]
    hosts: list[dict[str, Any]] = Field(default_factory=list)
    params: dict[str, Any]
    lease: float
    undo: dict[str, Any]
    applied: str = ""


class LabStarting(EventModel):
    lab: str
    marker: str


class LabUp(EventModel):
    lab: str
    subnet: str
    hosts: dict[str, str]


class LabDown(EventModel):
    lab: str
    done: str | None = None
    error: str | None = None


class FaultEvent(EventModel):
    fault: str


class FaultError(EventModel):
    fault: str
    error: str


class FaultClosed(EventModel):
    fault: str
    reason: str


class Phase(EventModel):
    phase: str


class Plan(EventModel):
    faults: list[dict[str, Any]]


class Verdict(EventModel):
    status: str
    exit_code: int
    reasons: list[str]


class Teardown(EventModel):
    active: list[str]
    still_running: list[str] = Field(default_factory=list)
    signals: int = 0


class Recovered(EventModel):
    reverted: list[str]
    failed: list[str] = Field(default_factory=list)
    stopped: list[str] = Field(default_factory=list)


EVENT_MODELS: dict[Event, type[EventModel]] = {
    Event.RUN_STARTED: RunStarted,
    Event.SERVICE_STARTING: Spawning,
    Event.PROXY_SERVER_STARTING: Spawning,
    Event.SERVICE_STARTED: Spawned,
    Event.PROXY_SERVER_STARTED: Spawned,
    Event.SERVICE_STOPPED: Stopped,
    Event.PROXY_SERVER_STOPPED: Stopped,
    Event.LAB_STARTING: LabStarting,
    Event.LAB_UP: LabUp,
    Event.LAB_DOWN: LabDown,
    Event.FAULT_INTENT: FaultIntent,
    Event.FAULT_INJECTED: FaultEvent,
    Event.FAULT_REVERTED: FaultEvent,
    Event.FAULT_INJECT_FAILED: FaultError,
    Event.REVERT_FAILED: FaultError,
    Event.FAULT_CLOSED: FaultClosed,
    Event.PHASE: Phase,
    Event.PLAN: Plan,
    Event.VERDICT: Verdict,
    Event.TEARDOWN_STARTED: EventModel,
    Event.TEARDOWN: Teardown,
    Event.RECOVERED: Recovered,
}


def parse_event(record: dict[str, Any]) -> tuple[Event, EventModel] | None:
    """The typed event of one journal line; None for an unknown kind. Raises
    pydantic.ValidationError for a known kind with damaged fields."""
    try:
        kind = Event(str(record.get("event")))
    except ValueError:
        return None
    return kind, EVENT_MODELS.get(kind, EventModel).model_validate(record)
