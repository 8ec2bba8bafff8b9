"""Workload specs (entries of an experiment's ``workloads:``) and the workload-kind registry.

A workload kind is a :class:`WorkloadKind`: its spec (a :class:`WorkloadSpec` subclass with
``kind: Literal["<name>"]``) and a factory that builds the running workload. faultlab's own
kinds are ``http`` (open-loop HTTP load, per-second statistics for SLOs) and ``history``
(clients that record a history for the checkers), registered in :mod:`faultlab.workload.kinds`;
plug-ins register more in the entry-point group ``faultlab.workloads``. What a factory returns
is a :class:`~faultlab.workload.base.Workload` (the protocol, its life cycle and the context
are documented there); a plug-in that plans arrivals uses the shared scheduler,
:class:`~faultlab.workload.openloop.OpenLoop`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Annotated, Any, ClassVar, Literal

import msgspec
from pydantic import BeforeValidator, Field, field_validator, model_validator

from faultlab.experiment.types import (
    Duration,
    EnvValue,
    HeaderName,
    HeaderValue,
    HostPort,
    HttpUrl,
    Rate,
    Strict,
    empty_list,
)
from faultlab.plugins import Registry, check_kind_literal, discriminated_union

if TYPE_CHECKING:
    from faultlab.workload.base import Workload, WorkloadContext

__all__ = ["WORKLOAD_KINDS", "HistoryWorkload", "HttpWorkload", "WorkloadFactory", "WorkloadKind",
           "WorkloadSpec", "workload_union"]


class WorkloadSpec(Strict):
    kind: str

    #: whether it produces per-second statistics (so SLOs can measure it)
    measured: ClassVar[bool] = False


def _positive(v: float, what: str) -> float:
    if v <= 0:
        raise ValueError(f"the {what} timeout must be above zero; write e.g. 1s")
    return v


class HttpWorkload(WorkloadSpec):
    """Open-loop HTTP load: request i is planned at t0 + i/rate whatever the responses do."""

    measured: ClassVar[bool] = True
    kind: Literal["http"] = "http"
    url: HttpUrl = Field(description="The URL requested.")
    method: Literal["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"] = Field(
        default="GET", description="HTTP method.")
    headers: dict[HeaderName, HeaderValue] = Field(default_factory=dict,
                                                   description="Request headers.")
    body: str | None = Field(default=None, description="Request body.")
    rate: Rate = Field(description="Requests per second, e.g. 200/s.")
    timeout: Duration = Field(default=2.0, description="Per-request timeout; a request that "
                              "exceeds it counts as failed at the timeout.")
    max_in_flight: int = Field(default=1000, ge=1, le=100_000, description="Requests in "
                               "flight at most; more are dropped and counted as failures.")
    expect_status: list[Annotated[int, Field(ge=100, le=599)]] | None = Field(
        default=None, description="Statuses that count as success (default 200-399).")
    traceparent: bool = Field(default=False, description="Send a fresh W3C traceparent "
                              "header (random trace id, sampled) with every request, so the "
                              "system's own traces and faultlab's proxy can tell requests "
                              "apart.")
    workers: int | Literal["auto"] = Field(
        default=1, description="OS processes the load runs in (auto: one per core): arrival "
        "i goes to process i mod workers and their per-second statistics are merged exactly, "
        "so one load can go beyond one core. max_in_flight is shared out among them.")

    @field_validator("timeout")
    @classmethod
    def _timeout(cls, v: float) -> float:
        return _positive(v, "request")

    @field_validator("workers")
    @classmethod
    def _workers(cls, v: int | str) -> int | str:
        if isinstance(v, int) and not 1 <= v <= 256:
            raise ValueError(f"workers must be between 1 and 256 (or auto), got {v}")
        return v

    @property
    def worker_count(self) -> int:
        """How many processes the load runs in (``auto``: ``os.cpu_count()``)."""
        import os

        return (os.cpu_count() or 1) if self.workers == "auto" else int(self.workers)

    @model_validator(mode="after")
    def _one_traceparent(self) -> HttpWorkload:
        if self.traceparent and any(n.lower() == "traceparent" for n in self.headers):
            raise ValueError("headers has a traceparent and traceparent is true; the load "
                             "makes a fresh one per request: drop one of them")
        if isinstance(self.workers, int) and self.workers > self.max_in_flight:
            raise ValueError(f"workers ({self.workers}) above max_in_flight "
                             f"({self.max_in_flight}): each process needs one in flight at "
                             "least; lower workers or raise max_in_flight")
        return self


class RedisWait(Strict):
    """Redis's WAIT after each write: the write counts as acknowledged only once ``replicas``
    replicas have it; otherwise its outcome is unknown (info)."""

    replicas: int = Field(ge=1, le=64, description="Replicas that must acknowledge.")
    timeout: Duration = Field(default=0.5, description="How long WAIT waits.")

    @field_validator("timeout")
    @classmethod
    def _timeout(cls, v: float) -> float:
        return _positive(v, "WAIT")


def _wait_shorthand(value: object) -> object:
    """``wait: 2`` is ``{replicas: 2}``; ``wait: 0`` is no WAIT (so ``--var`` can set it)."""
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value)
    if isinstance(value, int) and not isinstance(value, bool):
        return None if value == 0 else {"replicas": value}
    return value


class HistoryWorkload(WorkloadSpec):
    """Clients that record every operation as a history for the checkers (see ``checks``)."""

    kind: Literal["history"] = "history"
    client: Literal["kv-http", "redis", "postgres", "etcd"] = Field(
        description="Which client drives the store.")
    address: HostPort | None = Field(default=None, description="host:port of the store "
                                     "(or give addresses).")
    addresses: list[HostPort] = Field(default_factory=empty_list, max_length=256, description=(
        "host:port of every node: client process p talks to node p mod len (a cluster "
        "from several sides)."))
    reads: Literal["linearizable", "serializable"] = Field(
        default="linearizable", description="etcd: linearizable reads (quorum, the default) "
        "or serializable reads (from the member's local state; may be stale).")
    wait: Annotated[RedisWait | None, BeforeValidator(_wait_shorthand)] = Field(
        default=None, description="redis: after each write, WAIT until this many replicas "
        "acknowledge it ({replicas: 2, timeout: 500ms}, or just the number; 0 is no WAIT).")
    model: Literal["register", "cas-register", "set", "queue", "bank"] = Field(
        description="The data model the operations follow.")
    processes: int = Field(default=5, ge=1, le=256, description="Concurrent clients.")
    keys: int = Field(default=3, ge=1, le=10_000, description="Keys operated on.")
    rate: Rate = Field(default=50.0, description="Operations per second in all.")
    timeout: Duration = Field(default=1.0, description="Per-operation timeout (then the "
                              "outcome is unknown: info).")
    user: EnvValue = Field(default="postgres", description="PostgreSQL user.")
    database: EnvValue = Field(default="postgres", description="PostgreSQL database.")
    password: EnvValue | None = Field(default=None, description="Password (use ${env:NAME}).")
    accounts: int = Field(default=5, ge=2, le=1000, description="Bank model: accounts.")
    balance: int = Field(default=100, ge=1, le=10**9, description="Bank model: starting "
                         "balance of each account.")

    @field_validator("timeout")
    @classmethod
    def _timeout(cls, v: float) -> float:
        return _positive(v, "operation")

    @model_validator(mode="after")
    def _client_runs_model(self) -> HistoryWorkload:
        from faultlab.workload.clients.models import unsupported  # only for a history load

        problem = unsupported(self.client, self.model)
        if problem is not None:
            message, hint = problem
            raise ValueError(f"{message}; {hint}")  # "; " separates the hint (errors.py)
        if (self.address is None) == (not self.addresses):
            raise ValueError("give exactly one of address, addresses; e.g. address: "
                             "127.0.0.1:2379")
        if self.reads != "linearizable" and self.client != "etcd":
            raise ValueError(f"reads: {self.reads} is an etcd setting, not {self.client}'s")
        if self.wait is not None and self.client != "redis":
            raise ValueError(f"wait is a redis setting, not {self.client}'s")
        if self.wait is not None and self.wait.timeout >= self.timeout:
            raise ValueError(f"wait's timeout ({self.wait.timeout:g}s) must be below the "
                             f"operation timeout ({self.timeout:g}s), which it is part of")
        return self

    @property
    def nodes(self) -> list[str]:
        """Every address the clients talk to (process p to ``nodes[p % len]``)."""
        return list(self.addresses) if self.addresses else [self.address or ""]


#: a kind's factory: (workload name, its spec, the run's context) -> the running workload
WorkloadFactory = Callable[[str, Any, "WorkloadContext"], "Workload"]


class WorkloadKind(msgspec.Struct, frozen=True):
    """A workload kind: its name (the ``kind:`` value), its spec model and its factory."""

    name: str
    spec: type[WorkloadSpec]
    build: WorkloadFactory


def _check(kind: WorkloadKind) -> None:
    check_kind_literal("workload kind", kind.name, kind.spec)


WORKLOAD_KINDS: Registry[WorkloadKind] = Registry(
    "workload kind", "faultlab.workloads", builtins=("faultlab.workload.kinds",), check=_check)


def workload_union() -> Any:
    return discriminated_union(tuple(k.spec for k in WORKLOAD_KINDS))
