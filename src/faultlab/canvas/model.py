"""The canvas file (version 1): a model of a system that faultlab analyses, draws and turns
into experiments.

A canvas names **zones**, **services** (instances spread over zones, any one of which
serves), **datastores** (replicas of which a quorum must be up), **dependencies** (caller →
callee: hard or soft with a fallback, per-attempt timeout, attempts, backoff, retry budget,
idempotency, pool size) and **journeys** (what users do: an entry service, the calls the
journey makes in order, its traffic and its SLOs). Each part may say where it is in a
running system (``target:``, a faultlab target; a journey's ``request:``; the canvas's
``system:``, the services to start), so experiments can be generated from it.

Availability of an instance is given as a ratio (``availability: 99.9%``) or as
``mttf``/``mttr`` (A = MTTF / (MTTF + MTTR)); a zone's availability is the chance the zone
as a whole is up, shared by everything in it (correlated failure).

Cross-references (a dependency's ends, a journey's steps, zones) are checked by
:mod:`faultlab.canvas.semantic`; these models check what one value says about itself.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, Field, model_validator

from faultlab.experiment.model import SystemSpec
from faultlab.experiment.targets import Target
from faultlab.experiment.types import Duration, HttpUrl, Name, Rate, Ratio, Strict
from faultlab.slo.spec import LatencyObjective

__all__ = ["Breaker", "BurnRateAlert", "Canvas", "Datastore", "Dependency", "Deploy",
           "Journey", "JourneySlo", "Node", "Request", "Service", "Telemetry", "Zone",
           "edge_id", "parse_step"]


def _strict_int(value: object) -> object:
    if isinstance(value, bool) or (isinstance(value, float) and value.is_integer()):
        raise ValueError(f"expected a whole number, got {value!r}")
    return value


class Zone(Strict):
    """A failure domain (an availability zone, a rack, a region)."""

    availability: Ratio = Field(default=1.0, description="The chance the zone as a whole is "
                                "up (shared by everything in it), e.g. 99.99%.")


class Reliability(Strict):
    """How available one instance is: a ratio, or MTTF and MTTR."""

    availability: Ratio | None = Field(default=None, description="Of one instance, e.g. "
                                       "99.9% (or give mttf and mttr).")
    mttf: Duration | None = Field(default=None, description="Mean time to failure of one "
                                  "instance, e.g. 720h.")
    mttr: Duration | None = Field(default=None, description="Mean time to repair, e.g. 30m.")

    @model_validator(mode="after")
    def _one_way(self) -> Reliability:
        if self.availability is not None and (self.mttf is not None or self.mttr is not None):
            raise ValueError("give availability, or mttf and mttr, not both")
        if (self.mttf is None) != (self.mttr is None):
            raise ValueError("mttf and mttr go together; e.g. mttf: 720h, mttr: 30m")
        if self.mttf is not None and self.mttf <= 0:
            raise ValueError("mttf must be above zero; e.g. mttf: 720h")
        return self

    @property
    def instance_availability(self) -> float:
        """A = MTTF / (MTTF + MTTR), or the ratio given; 1 when nothing is said."""
        if self.mttf is not None and self.mttr is not None:
            return self.mttf / (self.mttf + self.mttr)
        return self.availability if self.availability is not None else 1.0


Count = Annotated[int, BeforeValidator(_strict_int), Field(ge=1, le=1000)]
Size = Annotated[int, BeforeValidator(_strict_int), Field(ge=0, le=1_000_000)]


# --- optional parts read by the patterns library's rules (docs/patterns.md); a canvas that
# --- leaves them out says nothing about them, and those rules stay silent


class Deploy(Strict):
    """How new versions of a service are rolled out."""

    strategy: Literal["rolling", "blue_green", "canary"] = Field(description="rolling: "
                                                                 "instances replaced in "
                                                                 "steps; blue_green: a "
                                                                 "second full fleet, traffic "
                                                                 "switched at once; canary: "
                                                                 "a share of traffic first.")
    max_surge: Size = Field(default=1, description="rolling: instances started above "
                            "`instances` during a step.")
    max_unavailable: Size = Field(default=0, description="rolling: instances that may be "
                                  "out of service during a step.")
    canary_share: Ratio | None = Field(default=None, description="canary: the share of "
                                       "traffic the new version takes first, e.g. 5%.")
    rollback: Literal["auto", "manual"] = Field(default="manual", description="auto: a "
                                                "failing health or SLO signal rolls the "
                                                "change back without a person.")


class Telemetry(Strict):
    """What a service emits."""

    golden_signals: bool = Field(default=False, description="Latency, traffic, errors and "
                                 "saturation, per endpoint.")
    tracing: bool = Field(default=False, description="Joins and propagates trace context "
                          "(W3C traceparent) on every call it receives and makes.")
    structured_logs: bool = Field(default=False, description="Logs as fields (JSON), not "
                                  "free text.")
    correlation_ids: bool = Field(default=False, description="Every log line carries the "
                                  "request's trace or correlation id.")


class Breaker(Strict):
    """A circuit breaker on a call: open after failures, probe after a cool-down."""

    failures: Count = Field(description="Consecutive failed attempts that open it, e.g. 5.")
    cool_down: Duration = Field(description="How long it stays open before one half-open "
                                "probe, e.g. 1s.")
    failure_ratio: Ratio | None = Field(default=None, description="Also open when this "
                                        "share of the calls in the window fail, e.g. 50%.")


class BurnRateAlert(Strict):
    """A multi-window burn-rate alert on a journey's availability SLO."""

    burn: Annotated[float, Field(gt=0, le=10_000)] = Field(description="Error-budget burn "
                                                           "rate it fires at (1 = the "
                                                           "budget lasts the SLO window), "
                                                           "e.g. 14.4.")
    long: Duration = Field(description="The long window, e.g. 1h.")
    short: Duration = Field(description="The short window that must agree (it resets the "
                            "alert soon after the burn stops), e.g. 5m.")


class Node(Reliability):
    """A service or a datastore: instances (replicas) spread over zones."""

    description: str = Field(default="", description="What it is, for people.")
    zones: list[Name] = Field(default_factory=list, description="Zones its instances are "
                              "spread over, round robin (instance i in zones[i mod n]); "
                              "none: no zone is modelled.")
    target: Target | None = Field(default=None, description="Where it runs, as a faultlab "
                                  "target (a process: {service: NAME} of system:, a pid "
                                  "file, a name), for generated experiments.")
    cells: Count | None = Field(default=None, description="Independent cells (shards) its "
                                "instances are split into, each serving its own customers.")

    @property
    def count(self) -> int:
        raise NotImplementedError

    @property
    def needed(self) -> int:
        raise NotImplementedError

    def instance_zones(self) -> list[str | None]:
        """The zone of each instance (None when no zones are given)."""
        if not self.zones:
            return [None] * self.count
        return [self.zones[i % len(self.zones)] for i in range(self.count)]


class Service(Node):
    """A stateless service: any one of its instances serves a request."""

    instances: Count = Field(default=1, description="Instances; one up is enough.")
    stateless: bool | None = Field(default=None, description="false: instances keep state "
                                   "a request needs (sessions, caches that must be warm), "
                                   "so the analysis's 'any instance serves' does not hold.")
    health: Literal["none", "liveness", "readiness"] | None = Field(
        default=None, description="What its health check says: none; liveness (the "
        "process is up); readiness (it can serve, dependencies included: traffic goes only "
        "to ready instances).")
    capacity: Rate | None = Field(default=None, description="Requests/s one instance serves "
                                  "within its latency SLO.")
    load_shedding: bool | None = Field(default=None, description="Above capacity it refuses "
                                       "work early (e.g. 503) instead of queueing it.")
    queue: Size | Literal["unbounded"] | None = Field(default=None, description="Requests "
                                                      "one instance lets wait, or "
                                                      "unbounded.")
    deploy: Deploy | None = Field(default=None, description="How new versions roll out.")
    telemetry: Telemetry | None = Field(default=None, description="What it emits.")

    @property
    def count(self) -> int:
        return self.instances

    @property
    def needed(self) -> int:
        return 1


class Datastore(Node):
    """A replicated store: it serves while a quorum of its replicas is up (k of n)."""

    replicas: Count = Field(default=1, description="Replicas.")
    quorum: Count | None = Field(default=None, description="Replicas that must be up for it "
                                 "to serve (k of n); default: a majority.")

    @model_validator(mode="after")
    def _quorum(self) -> Datastore:
        if self.quorum is not None and self.quorum > self.replicas:
            raise ValueError(f"quorum {self.quorum} is more than the {self.replicas} "
                             "replicas; e.g. quorum: 2 of replicas: 3")
        return self

    @property
    def count(self) -> int:
        return self.replicas

    @property
    def needed(self) -> int:
        return self.quorum if self.quorum is not None else self.replicas // 2 + 1


def _backoff(value: object) -> object:
    if isinstance(value, str | int | float) and not isinstance(value, bool):
        return [value]
    return value


class Dependency(Strict):
    """A call from one node to another, with the caller's resilience settings."""

    caller: Name = Field(alias="from", description="The calling service.")
    callee: Name = Field(alias="to", description="The service or datastore it calls.")
    kind: Literal["hard", "soft"] = Field(default="hard", description="hard: the caller "
                                          "fails when this call fails; soft: it goes on "
                                          "(with its fallback).")
    fallback: Ratio | None = Field(default=None, description="soft: the chance the caller's "
                                   "fallback still serves the request when the call fails "
                                   "(default 100%: it always does, degraded).")
    timeout: Duration | None = Field(default=None, description="Per attempt; none: the "
                                     "caller waits as long as the callee takes.")
    deadline: Duration | None = Field(default=None, description="The whole call, every "
                                      "attempt and backoff included, ends by this (an "
                                      "overall deadline); none: only the per-attempt timeout "
                                      "bounds it.")
    attempts: Count = Field(default=1, description="Attempts per call, the first included "
                            "(3 attempts = 2 retries).")
    backoff: Annotated[list[Duration], BeforeValidator(_backoff)] = Field(
        default_factory=list, description="Waits between attempts (one value: the same "
        "before every retry; a list: one per retry).")
    retry_budget: Ratio | None = Field(default=None, description="Retries allowed as a "
                                       "share of calls (e.g. 10%), a token bucket.")
    idempotent: bool = Field(default=True, description="Whether retrying it is safe.")
    pool: Annotated[int, Field(ge=1, le=1_000_000)] | None = Field(
        default=None, description="Calls the caller may have in flight to it (connection "
        "pool, bulkhead); none: unbounded.")
    jitter: Literal["none", "full", "equal", "decorrelated"] | None = Field(
        default=None, description="How each backoff is randomised: none (every client "
        "retries in step), full (uniform in 0..backoff), equal, decorrelated.")
    breaker: Breaker | None = Field(default=None, description="The caller's circuit breaker "
                                    "on this call; none: every call goes to the callee.")
    kill_switch: bool | None = Field(default=None, description="An emergency lever (a "
                                     "flag) turns this call off at run time, the caller "
                                     "using its fallback.")
    target: Target | None = Field(default=None, description="The call's path in the running "
                                  "system as a faultlab target (a proxy between caller and "
                                  "callee), for generated experiments.")
    model_config = Strict.model_config | {"populate_by_name": True}

    @model_validator(mode="after")
    def _shape(self) -> Dependency:
        if self.fallback is not None and self.kind == "hard":
            raise ValueError("a fallback makes a dependency soft; write kind: soft")
        if self.caller == self.callee:
            raise ValueError(f"'{self.caller}' depends on itself")
        if self.timeout is not None and self.timeout <= 0:
            raise ValueError("timeout must be above zero; e.g. timeout: 200ms")
        if self.deadline is not None and self.deadline <= 0:
            raise ValueError("deadline must be above zero; e.g. deadline: 250ms")
        if len(self.backoff) > 1 and len(self.backoff) != self.attempts - 1:
            raise ValueError(f"{len(self.backoff)} backoffs for {self.attempts - 1} retries; "
                             "give one per retry, or a single value for all")
        return self

    @property
    def id(self) -> str:
        return edge_id(self.caller, self.callee)

    @property
    def fallback_success(self) -> float:
        """c of A_eff = 1 - (1 - A)(1 - c): 0 for a hard dependency."""
        if self.kind == "hard":
            return 0.0
        return self.fallback if self.fallback is not None else 1.0

    def waits(self) -> list[float]:
        """The backoff before each retry (attempts - 1 values)."""
        retries = self.attempts - 1
        if not self.backoff:
            return [0.0] * retries
        if len(self.backoff) == 1:
            return [self.backoff[0]] * retries
        return list(self.backoff)


def edge_id(caller: str, callee: str) -> str:
    return f"{caller}->{callee}"


def parse_step(step: str) -> tuple[str, str] | None:
    """``'a -> b'`` (spaces optional) as ``('a', 'b')``; None if it is not of that shape."""
    caller, sep, callee = step.partition("->")
    caller, callee = caller.strip(), callee.strip()
    if not sep or not caller or not callee or "->" in callee:
        return None
    return caller, callee


class JourneySlo(Strict):
    """What users of the journey are promised."""

    availability: Ratio | None = Field(default=None, description="Share of requests that "
                                       "succeed, e.g. 99.9%.")
    latency: LatencyObjective | None = Field(default=None, description="e.g. {p99: 300ms}.")
    window: Duration = Field(default=30 * 86400.0, description="The SLO's window (error "
                             "budget period), e.g. 720h.")
    alerts: list[BurnRateAlert] | None = Field(default=None, description="Burn-rate "
                                               "alerts on the availability SLO; [] says "
                                               "there are none.")


class Request(Strict):
    """The journey as a request to the running system (for generated experiments)."""

    url: HttpUrl = Field(description="The URL a user's request goes to.")
    method: Literal["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"] = "GET"
    expect_status: list[Annotated[int, Field(ge=100, le=599)]] | None = Field(
        default=None, description="Statuses that count as success (default 2xx/3xx).")


class Journey(Strict):
    """Something users do: a request to ``entry``, which makes the calls in ``steps``."""

    entry: Name = Field(description="The service users call.")
    steps: list[str] = Field(default_factory=list, description="The calls the journey "
                             "makes, in order, as 'caller -> callee' (each a dependency); "
                             "default: every dependency reachable from the entry.")
    rps: Rate = Field(description="Its traffic, e.g. 50/s.")
    timeout: Duration | None = Field(default=None, description="How long the user (or the "
                                     "edge) waits for the entry service.")
    rate_limit: Rate | None = Field(default=None, description="Requests/s admitted at the "
                                    "edge for this journey (a rate limiter); more are "
                                    "refused.")
    slo: JourneySlo = Field(default_factory=JourneySlo, description="Its SLOs.")
    request: Request | None = Field(default=None, description="The request in the running "
                                    "system, for generated experiments.")


class Canvas(Strict):
    """A system: zones, services, datastores, dependencies, journeys."""

    version: Annotated[Literal[1], BeforeValidator(_strict_int)] = Field(
        default=1, description="File format version.")
    name: Name = Field(description="The system's name.")
    description: str = Field(default="", description="What it is, for people.")
    vars: dict[str, str | int | float | bool] = Field(default_factory=dict, description=(
        "Variables used as ${name}; --var overrides them."))
    zones: dict[Name, Zone] = Field(default_factory=dict, description="Failure domains.")
    services: dict[Name, Service] = Field(default_factory=dict, description="Stateless "
                                          "services.")
    datastores: dict[Name, Datastore] = Field(default_factory=dict, description="Replicated "
                                              "stores.")
    dependencies: list[Dependency] = Field(default_factory=list, description="Calls between "
                                           "them.")
    journeys: dict[Name, Journey] = Field(default_factory=dict, description="What users do.")
    system: SystemSpec | None = Field(default=None, description="The running system as an "
                                      "experiment's system: section (services to start), "
                                      "copied into generated experiments.")

    def node(self, name: str) -> Node | None:
        return self.services.get(name) or self.datastores.get(name)

    def nodes(self) -> dict[str, Node]:
        return {**self.services, **self.datastores}

    def dependency(self, caller: str, callee: str) -> Dependency | None:
        return next((d for d in self.dependencies
                     if d.caller == caller and d.callee == callee), None)

    def calls(self, journey: str) -> list[Dependency]:
        """The dependencies a journey's request goes through: its ``steps`` in order, or,
        when it names none, every dependency reachable from its entry (breadth first, in
        file order). Steps that name no dependency are left out (the loader refuses them)."""
        j = self.journeys[journey]
        if j.steps:
            by_ends: dict[tuple[str, str], Dependency] = {}
            for d in self.dependencies:
                by_ends.setdefault((d.caller, d.callee), d)
            out: dict[tuple[str, str], Dependency] = {}
            for step in j.steps:
                ends = parse_step(step)
                if ends is not None and ends in by_ends:
                    out.setdefault(ends, by_ends[ends])
            return list(out.values())
        by_caller: dict[str, list[Dependency]] = {}
        for d in self.dependencies:
            by_caller.setdefault(d.caller, []).append(d)
        seen, queue, found = {j.entry}, [j.entry], []
        while queue:
            caller = queue.pop(0)
            for d in by_caller.get(caller, []):
                found.append(d)
                if d.callee not in seen:
                    seen.add(d.callee)
                    queue.append(d.callee)
        return found

    def meta(self) -> dict[str, Any]:
        return {"name": self.name, "version": self.version}
