"""Typed models of an experiment (file format v1).

Models are frozen pydantic models that forbid unknown keys. Values with units are parsed by
:mod:`faultlab.units` at validation time, so the rest of faultlab sees seconds, requests per
second and bytes per second as floats. Cross-references (fault -> target, hypothesis -> SLO)
are checked by :mod:`faultlab.experiment.semantic`, which knows where each value sits in the
file; these models check only what one value can say about itself.
"""

from __future__ import annotations

import re
import shlex
import signal as _signal
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    WithJsonSchema,
    field_validator,
    model_validator,
)

from faultlab.units import parse_byte_rate, parse_duration, parse_rate

__all__ = [
    "AbortCondition",
    "BandwidthFault",
    "DownFault",
    "Experiment",
    "FaultSpec",
    "HttpWorkload",
    "Hypothesis",
    "KillFault",
    "LatencyFault",
    "LatencyObjective",
    "PauseFault",
    "ProcessTarget",
    "ProxyTarget",
    "ReadyCheck",
    "ResetFault",
    "RestartFault",
    "RevertPolicy",
    "ServiceSpec",
    "Slo",
    "Stream",
    "SystemSpec",
    "Target",
    "Workload",
]

_DURATION_SCHEMA = {"type": "string", "pattern": r"^(\d+(\.\d+)?(us|µs|ms|s|m|h))+$",
                    "examples": ["250ms", "30s"]}
Duration = Annotated[float, BeforeValidator(parse_duration), WithJsonSchema(_DURATION_SCHEMA)]
Rate = Annotated[
    float, BeforeValidator(parse_rate),
    WithJsonSchema({"type": "string", "pattern": r"^\d+(\.\d+)?/(s|m|h)$", "examples": ["200/s"]}),
]
ByteRate = Annotated[
    float, BeforeValidator(parse_byte_rate),
    WithJsonSchema({"type": "string", "examples": ["100KB/s", "1MiB/s"]}),
]


def _parse_ratio(value: object) -> float:
    if isinstance(value, str) and value.strip().endswith("%"):
        try:
            number = float(value.strip()[:-1]) / 100
        except ValueError:
            raise ValueError(f"{value!r} is not a percentage; write e.g. 99.5%") from None
    elif isinstance(value, int | float) and not isinstance(value, bool):
        number = float(value)
    else:
        raise ValueError(f"{value!r} is not a ratio; write 99.5% or 0.995")
    if not 0 < number <= 1:
        raise ValueError(f"ratio {value!r} must be above 0 and at most 1; "
                         "write e.g. 99.9% or 0.999")
    return number


Ratio = Annotated[
    float, BeforeValidator(_parse_ratio),
    WithJsonSchema({"oneOf": [{"type": "string", "pattern": r"^\d+(\.\d+)?%$"},
                              {"type": "number", "exclusiveMinimum": 0, "maximum": 1}]}),
]

_HOSTPORT = re.compile(r"^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.\-]+):(\d{1,5})$")


def _check_hostport(value: str) -> str:
    m = _HOSTPORT.match(value)
    if not m or not 0 < int(m.group(2)) < 65536:
        raise ValueError(f"{value!r} is not host:port; write e.g. 127.0.0.1:8080")
    return value


HostPort = Annotated[str, BeforeValidator(lambda v: _check_hostport(str(v)))]
Name = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,62}$")]


def _signal_name(value: object) -> str:
    name = str(value).upper()
    if not name.startswith("SIG"):
        name = "SIG" + name
    if name not in _signal.Signals.__members__:
        raise ValueError(f"{value!r} is not a signal name; write e.g. SIGKILL, SIGTERM")
    return name


SignalName = Annotated[str, BeforeValidator(_signal_name)]


def _command(value: object) -> tuple[str, ...]:
    if isinstance(value, str):
        try:
            parts = shlex.split(value)
        except ValueError as e:
            raise ValueError(f"cannot split the command: {e}; quote it as a list, "
                             "e.g. [sh, -c, 'echo hi']") from None
    elif isinstance(value, list) and all(isinstance(v, str | int | float) for v in value):
        parts = [str(v) for v in value]
    else:
        raise ValueError("a command is a string or a list of strings")
    if not parts:
        raise ValueError("the command is empty")
    return tuple(parts)


Command = Annotated[
    tuple[str, ...], BeforeValidator(_command),
    WithJsonSchema({"oneOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}}]}),
]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# --- system under test ---------------------------------------------------------------------

class ReadyCheck(Strict):
    """How to tell a service is ready: one of an HTTP URL (2xx/3xx), a TCP address, a command."""

    http: str | None = None
    tcp: HostPort | None = None
    command: Command | None = None
    timeout: Duration = 15.0
    interval: Duration = 0.1

    @model_validator(mode="after")
    def _one_kind(self) -> ReadyCheck:
        given = [k for k in ("http", "tcp", "command") if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError("give exactly one of http, tcp, command")
        return self


class ServiceSpec(Strict):
    command: Command
    cwd: str | None = None
    env: dict[str, str] = Field(default_factory=dict)
    ready: ReadyCheck | None = None
    stop_timeout: Duration = 5.0


class SystemSpec(Strict):
    """Services faultlab starts (in order) before the experiment and stops after it."""

    services: dict[Name, ServiceSpec] = Field(default_factory=dict)


# --- targets -------------------------------------------------------------------------------

class ProxyTarget(Strict):
    """A TCP endpoint behind faultlab's proxy: clients connect to ``listen``, which forwards to
    ``upstream``. With ``api`` (and ``name``) an already running proxy server is used instead."""

    listen: HostPort | None = None
    upstream: HostPort | None = None
    api: str | None = None
    name: Name | None = None

    @model_validator(mode="after")
    def _shape(self) -> ProxyTarget:
        if self.api is None and (self.listen is None or self.upstream is None):
            raise ValueError("a proxy target needs listen and upstream; or give api and name "
                             "of an already running proxy")
        if self.api is not None and self.name is None:
            raise ValueError("a proxy target with api needs the proxy's name")
        return self


class ProcessTarget(Strict):
    """A local process: one faultlab started (``service``), or one found by pid file or name."""

    service: Name | None = None
    pidfile: str | None = None
    name: str | None = None

    @model_validator(mode="after")
    def _one_kind(self) -> ProcessTarget:
        given = [k for k in ("service", "pidfile", "name") if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError("give exactly one of service, pidfile, name")
        return self


class Target(Strict):
    proxy: ProxyTarget | None = None
    process: ProcessTarget | None = None

    @model_validator(mode="after")
    def _one_kind(self) -> Target:
        if (self.proxy is None) == (self.process is None):
            raise ValueError("a target is exactly one of proxy, process")
        return self

    @property
    def kind(self) -> Literal["proxy", "process"]:
        return "proxy" if self.proxy is not None else "process"


# --- faults --------------------------------------------------------------------------------

class Stream(StrEnum):
    UPSTREAM = "upstream"  # client -> server
    DOWNSTREAM = "downstream"  # server -> client


class _Fault(Strict):
    name: Name | None = None
    target: str
    start: Duration = 0.0
    duration: Duration = 0.0

    #: target kinds this fault applies to
    applies_to: tuple[str, ...] = ()

    @property
    def label(self) -> str:
        return self.name or f"{getattr(self, 'kind', 'fault')}-{self.target}"


class LatencyFault(_Fault):
    kind: Literal["latency"]
    delay: Duration
    jitter: Duration = 0.0
    stream: Stream = Stream.DOWNSTREAM
    applies_to: tuple[str, ...] = Field(default=("proxy",), exclude=True)


class BandwidthFault(_Fault):
    kind: Literal["bandwidth"]
    rate: ByteRate
    stream: Stream = Stream.DOWNSTREAM
    applies_to: tuple[str, ...] = Field(default=("proxy",), exclude=True)


class DownFault(_Fault):
    kind: Literal["down"]
    applies_to: tuple[str, ...] = Field(default=("proxy",), exclude=True)


class ResetFault(_Fault):
    kind: Literal["reset"]
    after: Duration = 0.0
    stream: Stream = Stream.DOWNSTREAM
    applies_to: tuple[str, ...] = Field(default=("proxy",), exclude=True)


class KillFault(_Fault):
    kind: Literal["kill"]
    signal: SignalName = "SIGKILL"
    applies_to: tuple[str, ...] = Field(default=("process",), exclude=True)


class PauseFault(_Fault):
    kind: Literal["pause"]
    applies_to: tuple[str, ...] = Field(default=("process",), exclude=True)


class RestartFault(_Fault):
    """Stop a service faultlab started with ``signal``; start it again after ``duration``."""

    kind: Literal["restart"]
    signal: SignalName = "SIGKILL"
    applies_to: tuple[str, ...] = Field(default=("process",), exclude=True)


FaultSpec = Annotated[
    LatencyFault | BandwidthFault | DownFault | ResetFault | KillFault | PauseFault | RestartFault,
    Field(discriminator="kind"),
]
FAULT_KINDS = ("latency", "bandwidth", "down", "reset", "kill", "pause", "restart")


# --- workload ------------------------------------------------------------------------------

class HttpWorkload(Strict):
    url: str
    method: Literal["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"] = "GET"
    headers: dict[str, str] = Field(default_factory=dict)
    body: str | None = None
    rate: Rate
    timeout: Duration = 2.0
    max_in_flight: int = Field(default=1000, ge=1, le=100_000)
    expect_status: list[Annotated[int, Field(ge=100, le=599)]] | None = None

    @field_validator("url")
    @classmethod
    def _url(cls, v: str) -> str:
        if not re.match(r"^https?://[^/\s]+", v):
            raise ValueError(f"{v!r} is not an http:// or https:// URL; "
                             "write e.g. http://127.0.0.1:8080/")
        return v

    @field_validator("timeout")
    @classmethod
    def _timeout(cls, v: float) -> float:
        if v <= 0:
            raise ValueError("the request timeout must be above zero; write e.g. 2s")
        return v


class HistoryWorkload(Strict):
    """Clients that record every operation as a history for the checkers (see ``checks``)."""

    client: Literal["kv-http", "redis", "postgres", "etcd"]
    address: HostPort
    model: Literal["register", "cas-register", "set", "queue", "bank"]
    processes: int = Field(default=5, ge=1, le=256)
    keys: int = Field(default=3, ge=1, le=10_000)
    rate: Rate = 50.0
    timeout: Duration = 1.0
    user: str = "postgres"
    database: str = "postgres"
    password: str | None = None
    accounts: int = Field(default=5, ge=2, le=1000)
    balance: int = Field(default=100, ge=1, le=10**9)

    @field_validator("timeout")
    @classmethod
    def _timeout(cls, v: float) -> float:
        if v <= 0:
            raise ValueError("the operation timeout must be above zero; write e.g. 1s")
        return v


class Workload(Strict):
    http: HttpWorkload | None = None
    history: HistoryWorkload | None = None

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

    kind: Literal["linearizable", "set", "queue", "bank"]
    time_limit: Duration = 60.0


Check = Annotated[CheckSpec, BeforeValidator(_check_shorthand)]


# --- SLOs, hypothesis, abort ---------------------------------------------------------------

PERCENTILES: dict[str, float] = {"p50": 50.0, "p90": 90.0, "p95": 95.0, "p99": 99.0,
                                 "p999": 99.9, "max": 100.0}


class LatencyObjective(Strict):
    """Exactly one percentile bound: the latency at that percentile must be at most the bound."""

    p50: Duration | None = None
    p90: Duration | None = None
    p95: Duration | None = None
    p99: Duration | None = None
    p999: Duration | None = None
    max: Duration | None = None

    @model_validator(mode="after")
    def _one(self) -> LatencyObjective:
        if len(self.bounds()) != 1:
            raise ValueError("give exactly one of p50, p90, p95, p99, p999, max "
                             "(write another SLO for another percentile)")
        return self

    def bounds(self) -> list[tuple[str, float]]:
        return [(k, v) for k in PERCENTILES if (v := getattr(self, k)) is not None]


class Slo(Strict):
    name: Name
    latency: LatencyObjective | None = None
    success_ratio: Ratio | None = None
    window: Duration = 5.0

    @field_validator("window")
    @classmethod
    def _window(cls, v: float) -> float:
        if v < 1:
            raise ValueError("an SLO window must be at least 1s; statistics are per second")
        return v

    @model_validator(mode="after")
    def _one_kind(self) -> Slo:
        if (self.latency is None) == (self.success_ratio is None):
            raise ValueError("an SLO is exactly one of latency, success_ratio")
        return self


class BeforeClause(Strict):
    hold: list[str] = Field(default_factory=list)
    duration: Duration = Field(default=5.0, alias="for")
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class DuringClause(Strict):
    hold: list[str] = Field(default_factory=list)


class AfterClause(Strict):
    hold: list[str] = Field(default_factory=list)
    recover_within: Duration = 10.0
    observe: Duration | None = None  # default: recover_within + the longest SLO window


class Hypothesis(Strict):
    before: BeforeClause = Field(default_factory=BeforeClause)
    during: DuringClause = Field(default_factory=DuringClause)
    after: AfterClause = Field(default_factory=AfterClause)


class AbortCondition(Strict):
    """End the run early, reverting everything, when the condition holds for ``for``."""

    success_ratio_below: Ratio | None = None
    p99_above: Duration | None = None
    duration: Duration = Field(default=3.0, alias="for")
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    @field_validator("duration")
    @classmethod
    def _for(cls, v: float) -> float:
        if v < 1:
            raise ValueError("an abort condition's 'for' must be at least 1s; "
                             "statistics are per second")
        return v

    @model_validator(mode="after")
    def _one(self) -> AbortCondition:
        if (self.success_ratio_below is None) == (self.p99_above is None):
            raise ValueError("an abort condition is exactly one of success_ratio_below, p99_above")
        return self


class RevertPolicy(Strict):
    """Leases and revert timeouts. A fault's lease is its duration plus ``lease_grace``: past
    that, the fault reverts itself even if faultlab is gone."""

    lease_grace: Duration = 10.0
    timeout: Duration = 5.0


class Experiment(Strict):
    version: Literal[1] = 1
    name: Name
    description: str = ""
    vars: dict[str, str | int | float | bool] = Field(default_factory=dict)
    system: SystemSpec = Field(default_factory=SystemSpec)
    targets: dict[Name, Target] = Field(default_factory=dict)
    workload: Workload | None = None
    slos: list[Slo] = Field(default_factory=list)
    hypothesis: Hypothesis = Field(default_factory=Hypothesis)
    faults: list[FaultSpec] = Field(default_factory=list)
    checks: list[Check] = Field(default_factory=list)
    abort: list[AbortCondition] = Field(default_factory=list)
    revert: RevertPolicy = Field(default_factory=RevertPolicy)
    seed: int | None = None

    def slo(self, name: str) -> Slo:
        return next(s for s in self.slos if s.name == name)

    @property
    def fault_phase_length(self) -> float:
        return max((f.start + f.duration for f in self.faults), default=0.0)
