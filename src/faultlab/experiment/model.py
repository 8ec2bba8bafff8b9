"""Typed models of an experiment (file format v1).

Models are frozen pydantic models that forbid unknown keys. Values with units are parsed by
:mod:`faultlab.experiment.types` at validation time (and written back with their units), so
the rest of faultlab sees seconds, requests per second and bytes per second as floats.
Fault kinds, host kinds and workload kinds are plug-ins: their specs live with their code,
and a ``faults:`` entry (a workload, a host) is validated by the spec of the kind it names
(:class:`~faultlab.plugins.ByKind`), so a file pays for the kinds it uses only; likewise a
lab, services, workloads, SLOs and abort conditions are validated by their modules' models,
imported when a file first gives the section (:class:`~faultlab.plugins.Lazy`). The JSON
Schema (:func:`experiment_json_schema`) holds the unions of every registered kind and the
sections' real types.
Cross-references (fault -> target, hypothesis -> SLO) are checked by
:mod:`faultlab.experiment.semantic`, which knows where each value sits in the file; these
models check only what one value can say about itself.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import (
    BeforeValidator,
    ConfigDict,
    Field,
    create_model,
    field_validator,
    model_validator,
)

from faultlab.experiment.targets import (
    LOCAL_HOST,
    ProcessTarget,
    ProxyTarget,
    Target,
)
from faultlab.experiment.types import (
    ByteRate,
    Command,
    Duration,
    HostPort,
    Name,
    Rate,
    Ratio,
    SignalName,
    Strict,
    empty_list,
)
from faultlab.faults.registry import FAULT_KINDS
from faultlab.faults.spec import FaultSpec
from faultlab.hosts import HOST_KINDS
from faultlab.plugins import ByKind, Lazy, discriminated_union

if TYPE_CHECKING:
    from faultlab.experiment.services import ReadyCheck, ServiceSpec
    from faultlab.lab.spec import LabSpec
    from faultlab.slo.spec import AbortCondition, LatencyObjective, Slo
    from faultlab.workload.spec import (
        HistoryWorkload,
        HttpWorkload,
        WorkloadSpec,
    )

__all__ = [
    "AbortCondition",
    "ByteRate",
    "CheckSpec",
    "Command",
    "Duration",
    "Experiment",
    "HistoryWorkload",
    "HostPort",
    "HttpWorkload",
    "Hypothesis",
    "LatencyObjective",
    "Name",
    "ProcessTarget",
    "ProxyTarget",
    "RandomSchedule",
    "Rate",
    "Ratio",
    "ReadyCheck",
    "RevertPolicy",
    "ServiceSpec",
    "SignalName",
    "Slo",
    "SystemSpec",
    "Target",
    "Workload",
    "experiment_json_schema",
    "experiment_model",
    "union_model",
]

# --- sections whose models a file may not need ----------------------------------------------
# A lab, services, workloads, SLOs and abort conditions are validated by their own modules'
# models, imported when a file first gives the section (plugins.Lazy): a file without SLOs
# pays for no SLO model. The JSON Schema holds the real types (union_model); so do the types
# mypy sees.

def _lab() -> Any:
    from faultlab.lab.spec import LabSpec
    return LabSpec | None


def _services() -> Any:
    from faultlab.experiment.services import ServiceSpec
    return dict[Name, ServiceSpec]


def _http() -> Any:
    from faultlab.workload.spec import HttpWorkload
    return HttpWorkload | None


def _history() -> Any:
    from faultlab.workload.spec import HistoryWorkload
    return HistoryWorkload | None


def _workloads() -> Any:
    from faultlab.workload.spec import WORKLOAD_KINDS, WorkloadSpec
    return dict[Name, Annotated[WorkloadSpec, ByKind(WORKLOAD_KINDS)]]


def _slos() -> Any:
    from faultlab.slo.spec import Slo
    return list[Slo]


def _abort() -> Any:
    from faultlab.slo.spec import AbortCondition
    return list[AbortCondition]


if TYPE_CHECKING:
    LabField = LabSpec | None
    ServicesField = dict[str, ServiceSpec]
    HttpField = HttpWorkload | None
    HistoryField = HistoryWorkload | None
    WorkloadsField = dict[str, WorkloadSpec]
    SlosField = list[Slo]
    AbortField = list[AbortCondition]
else:
    LabField = Annotated[Any, Lazy(_lab)]
    ServicesField = Annotated[Any, Lazy(_services)]
    HttpField = Annotated[Any, Lazy(_http)]
    HistoryField = Annotated[Any, Lazy(_history)]
    WorkloadsField = Annotated[Any, Lazy(_workloads)]
    SlosField = Annotated[Any, Lazy(_slos)]
    AbortField = Annotated[Any, Lazy(_abort)]


# --- system under test ---------------------------------------------------------------------

class SystemSpec(Strict):
    """What faultlab builds and starts before the experiment and removes after it: a lab
    (network-namespace hosts) and services (in order, on this machine or on lab hosts)."""

    lab: LabField = Field(default=None, description="A lab of network-namespace hosts "
                                "brought up before the services and removed after the run.")
    services: ServicesField = Field(default_factory=dict, description="Services by "
                                              "name, started in this order.")


# --- workloads -----------------------------------------------------------------------------

class Workload(Strict):
    """The shorthand for one workload of each kind: ``workload: {http: ..., history: ...}``
    is ``workloads: {http: {kind: http, ...}, history: {kind: history, ...}}``."""

    http: HttpField = Field(default=None, description="Open-loop HTTP load.")
    history: HistoryField = Field(default=None, description="Clients that record "
                                            "a history for the checkers.")

    @model_validator(mode="after")
    def _some(self) -> Workload:
        if self.http is None and self.history is None:
            raise ValueError("a workload needs http, history or both")
        return self


CHECK_KINDS = ("linearizable", "set", "queue", "bank")


def _check_shorthand(value: object) -> object:
    return {"kind": value} if isinstance(value, str) else value


class CheckSpec(Strict):
    """A checker run on the recorded history after the run; its verdict joins the run's."""

    kind: Literal["linearizable", "set", "queue", "bank"] = Field(
        description="The checker: linearizable (per model), set, queue or bank.")
    time_limit: Duration = Field(default=60.0, description="Search budget; past it the "
                                 "verdict is unknown.")

    @field_validator("time_limit")
    @classmethod
    def _limit(cls, v: float) -> float:
        if v <= 0:
            raise ValueError("a check's time_limit must be above zero; write e.g. 60s")
        return v


Check = Annotated[CheckSpec, BeforeValidator(_check_shorthand)]


# --- SLOs, hypothesis, abort ---------------------------------------------------------------

class BeforeClause(Strict):
    hold: list[str] = Field(default_factory=empty_list, description="SLOs that must hold before "
                            "any fault (the steady state); otherwise no fault is injected.")
    duration: Duration = Field(default=5.0, alias="for", description="How long the steady "
                               "state is observed.")
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    @field_validator("duration")
    @classmethod
    def _for(cls, v: float) -> float:
        if v < 1:
            raise ValueError("the steady state is judged over whole seconds; 'for' must be "
                             "at least 1s, e.g. for: 5s")
        return v


class DuringClause(Strict):
    hold: list[str] = Field(default_factory=empty_list, description="SLOs that must hold in every "
                            "window while faults are active.")


class AfterClause(Strict):
    hold: list[str] = Field(default_factory=empty_list, description="SLOs that must hold again "
                            "after the last fault is reverted.")
    recover_within: Duration = Field(default=10.0, description="Time from the last revert "
                                     "by which they must hold again.")
    observe: Duration | None = Field(default=None, description="How long to observe after "
                                     "the faults (default: recover_within + the longest "
                                     "SLO window + 1s).")


class Hypothesis(Strict):
    """What must hold before, during and after the faults."""

    before: BeforeClause = Field(default_factory=BeforeClause, description="The steady-state "
                                 "gate.")
    during: DuringClause = Field(default_factory=DuringClause, description="While faults are "
                                 "active.")
    after: AfterClause = Field(default_factory=AfterClause, description="Recovery.")


class RevertPolicy(Strict):
    """Leases and revert timeouts. A fault's lease is its duration plus ``lease_grace``: past
    that, the fault reverts itself even if faultlab is gone."""

    lease_grace: Duration = Field(default=10.0, description="Added to a fault's duration to "
                                  "give its lease.")
    timeout: Duration = Field(default=5.0, description="Time each revert may take.")


class Range(Strict):
    """A random duration, uniform between ``min`` and ``max``."""

    min: Duration = Field(description="Shortest.")
    max: Duration = Field(description="Longest.")

    @model_validator(mode="after")
    def _order(self) -> Range:
        if self.max < self.min:
            raise ValueError("max is below min; write e.g. {min: 5s, max: 15s}")
        return self


def _range_shorthand(value: object) -> object:
    if isinstance(value, str) and ".." in value:
        low, _, high = value.partition("..")
        return {"min": low.strip(), "max": high.strip()}
    if isinstance(value, str | int | float) and not isinstance(value, bool):
        return {"min": value, "max": value}
    return value


DurationRange = Annotated[Range, BeforeValidator(_range_shorthand)]


class RandomSchedule(Strict):
    """Jepsen's nemesis style: start one of ``faults`` (chosen at random) every ``interval``,
    hold it for ``hold``, at most ``max_active`` at once, until ``length`` has passed. The
    seed is journaled; the same seed gives the same schedule."""

    faults: list[str] = Field(min_length=1, description="Names of faults under faults: to "
                              "draw from (their start and duration are not used).")
    interval: DurationRange = Field(description="Time between starts, e.g. 5s..15s.")
    hold: DurationRange = Field(description="How long each stays, e.g. 2s..8s.")
    max_active: int = Field(default=1, ge=1, le=64, description="Faults active at once.")
    length: Duration = Field(description="Length of the fault phase.")

    @field_validator("length")
    @classmethod
    def _length(cls, v: float) -> float:
        if v <= 0:
            raise ValueError("the schedule's length must be above zero; e.g. length: 60s")
        return v


class Schedule(Strict):
    """When faults start: their own start/duration (the default), or drawn at random."""

    random: RandomSchedule | None = Field(default=None, description="Jepsen-style random "
                                          "schedule.")


#: an entry of ``faults:``, ``workloads:``, ``hosts:``: validated by the spec of its kind
FaultEntry = Annotated[FaultSpec, ByKind(FAULT_KINDS)]
HostEntry = Annotated[Any, ByKind(HOST_KINDS)]


def _strict_int(value: object) -> object:
    if isinstance(value, bool) or (isinstance(value, float) and value.is_integer()):
        raise ValueError(f"expected a whole number, got {value!r}")
    return value


class Experiment(Strict):
    version: Annotated[Literal[1], BeforeValidator(_strict_int)] = Field(
        default=1, description="File format version.")
    name: Name = Field(description="The experiment's name (in run directories and reports).")
    description: str = Field(default="", description="What it checks, for people.")
    vars: dict[str, str | int | float | bool] = Field(default_factory=dict, description=(
        "Variables used as ${name}; --var overrides them."))
    system: SystemSpec = Field(default_factory=SystemSpec, description="Services faultlab "
                               "starts and stops.")
    hosts: dict[Name, HostEntry] = Field(default_factory=dict, description="Hosts targets live on "
                                   "besides local (this machine); host kinds are plug-ins.")
    targets: dict[Name, Target] = Field(default_factory=dict, description="What faults act "
                                        "on, by name.")
    workload: Workload | None = Field(default=None, description="Shorthand: one workload of "
                                      "each kind, named after the kind.")
    workloads: WorkloadsField = Field(default_factory=dict, description="Named "
                                                "workloads (kind: http, history, ...).")
    warmup: Duration = Field(default=1.0, description="Load driven before second 0 and not "
                             "measured: connections and imports warm up first.")
    slos: SlosField = Field(default_factory=empty_list, description="Objectives, measured on "
                            "workloads per window.")
    hypothesis: Hypothesis = Field(default_factory=Hypothesis, description="Which SLOs must "
                                   "hold when.")
    faults: list[FaultEntry] = Field(default_factory=empty_list, description="Faults (kinds are "
                                    "plug-ins).")
    schedule: Schedule = Field(default_factory=Schedule, description="When faults start.")
    checks: list[Check] = Field(default_factory=empty_list, description="Checkers run on the "
                                "recorded history.")
    abort: AbortField = Field(default_factory=empty_list, description="Conditions that "
                                        "end the run early, reverting everything.")
    revert: RevertPolicy = Field(default_factory=RevertPolicy, description="Leases and "
                                 "revert timeouts.")
    seed: Annotated[int, BeforeValidator(_strict_int), Field(ge=0, lt=2**63)] | None = Field(
        default=None, description="Seed of every random choice (random if unset; journaled).")

    def slo(self, name: str) -> Slo:
        return next(s for s in self.slos if s.name == name)

    def all_workloads(self) -> dict[str, WorkloadSpec]:
        """Every workload by name (the ``workload:`` shorthand's are named after their kind)."""
        out: dict[str, WorkloadSpec] = {}
        if self.workload is not None:
            out.update({k: w for k in ("http", "history")
                        if (w := getattr(self.workload, k)) is not None})
        out.update(self.workloads)
        return out

    def measured_workloads(self) -> list[str]:
        return [n for n, w in self.all_workloads().items() if w.measured]

    def slo_workload(self, slo: Slo) -> str | None:
        """The workload an SLO measures (None if it names none and there is not exactly one)."""
        if slo.workload is not None:
            return slo.workload
        measured = self.measured_workloads()
        return measured[0] if len(measured) == 1 else None

    def lab_hosts(self) -> list[str]:
        """Hosts of the experiment's own lab (``system.lab``), by their names there."""
        return list(self.system.lab.hosts) if self.system.lab is not None else []

    def host_names(self) -> list[str]:
        """Every host a target or service may name: local, ``hosts:`` and the lab's."""
        return [LOCAL_HOST, *self.hosts, *self.lab_hosts()]

    def target(self, name: str) -> Target | None:
        """A declared target, or the implicit host target ``local``."""
        if name in self.targets:
            return self.targets[name]
        return Target(host=LOCAL_HOST) if name == LOCAL_HOST else None

    @property
    def fault_phase_length(self) -> float:
        if self.schedule.random is not None:
            return self.schedule.random.length
        return max((f.start + f.duration for f in self.faults), default=0.0)


def experiment_model() -> type[Experiment]:
    """The experiment model. Its ``faults``, ``workloads`` and ``hosts`` take every
    registered kind (plug-ins included, whenever they register), each entry validated by
    its kind's spec alone (:class:`~faultlab.plugins.ByKind`)."""
    if not Experiment.__pydantic_complete__:
        # The sections an absent key makes from their defaults are built first: each builds
        # its own validator anyway (for that default), and the experiment's schema then
        # reuses theirs instead of generating them a second time (~15% of its build).
        for section in _DEFAULTED:
            section.model_rebuild()
    return Experiment


#: the sections whose defaults every file without them constructs, inner ones first
_DEFAULTED: tuple[type[Strict], ...] = (SystemSpec, BeforeClause, DuringClause, AfterClause,
                                        Hypothesis, Schedule, RevertPolicy)


_UNION_MODELS: dict[tuple[tuple[type[Any], ...], ...], type[Experiment]] = {}


def union_model() -> type[Experiment]:
    """The experiment model with the discriminated unions of every registered fault,
    workload and host kind spelled out, and the lazy sections' real types (what
    :class:`Experiment` validates like, and what the JSON Schema describes); it builds every
    kind's schema, so only the schema uses it."""
    faults, workloads, hosts = (ByKind(r).specs()
                                for r in (FAULT_KINDS, _workload_kinds(), HOST_KINDS))
    key = (faults, workloads, hosts)
    model = _UNION_MODELS.get(key)
    if model is None:
        fields = Experiment.model_fields
        unions: dict[str, Any] = {
            **_resolved(Experiment),
            "system": (_real(SystemSpec), _plain(fields["system"])),
            "workload": (_real(Workload) | None, _plain(fields["workload"])),
            "faults": (list[discriminated_union(faults)],  # type: ignore[misc]
                       Field(default_factory=empty_list, description=fields["faults"].description)),
            "workloads": (dict[Name, discriminated_union(workloads)],  # type: ignore[misc]
                          Field(default_factory=dict,
                                description=fields["workloads"].description)),
            "hosts": (dict[Name, discriminated_union(hosts)],  # type: ignore[misc]
                      Field(default_factory=dict, description=fields["hosts"].description)),
        }
        model = create_model("Experiment", __base__=Experiment, __module__=__name__,
                             __doc__=Experiment.__doc__, **unions)
        _UNION_MODELS.clear()
        _UNION_MODELS[key] = model
    return model


def _workload_kinds() -> Any:
    from faultlab.workload.spec import WORKLOAD_KINDS
    return WORKLOAD_KINDS


def _resolved(section: type[Strict]) -> dict[str, Any]:
    """Each lazy field of ``section`` with its real type, as ``create_model`` takes it."""
    out: dict[str, Any] = {}
    for name, info in section.model_fields.items():
        lazy = next((m for m in info.metadata if isinstance(m, Lazy)), None)
        if lazy is not None:
            out[name] = (lazy.resolve(), _plain(info))
    return out


def _real(section: type[Strict]) -> type[Strict]:
    """``section`` with its lazy fields typed by their real types (for the JSON Schema)."""
    made: type[Strict] = create_model(section.__name__, __base__=section, __module__=__name__,
                                      __doc__=section.__doc__, **_resolved(section))
    return made


def _plain(info: Any) -> Any:
    """A field like ``info`` (default, description), without its type's metadata."""
    if info.default_factory is not None:
        return Field(default_factory=info.default_factory, description=info.description)
    return Field(default=info.default, description=info.description)


#: the names this module gave before their sections became lazy, for their importers
_MOVED = {"ReadyCheck": "faultlab.experiment.services", "ServiceSpec":
          "faultlab.experiment.services", "LabSpec": "faultlab.lab.spec",
          "PERCENTILES": "faultlab.slo.spec", "AbortCondition": "faultlab.slo.spec",
          "LatencyObjective": "faultlab.slo.spec", "Slo": "faultlab.slo.spec",
          "WORKLOAD_KINDS": "faultlab.workload.spec", "HistoryWorkload":
          "faultlab.workload.spec", "HttpWorkload": "faultlab.workload.spec",
          "WorkloadSpec": "faultlab.workload.spec"}


def __getattr__(name: str) -> Any:
    """``from faultlab.experiment.model import Slo`` and the like still work: the name's
    module is imported then (PEP 562)."""
    module = _MOVED.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(module), name)


def experiment_json_schema() -> dict[str, Any]:
    """The JSON Schema of experiment files (for editors), with every registered kind."""
    doc: dict[str, Any] = union_model().model_json_schema(by_alias=True)
    doc["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    doc["title"] = "faultlab experiment (version 1)"
    return doc
