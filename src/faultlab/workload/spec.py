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
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Any, ClassVar, Literal

from pydantic import Field, field_validator, model_validator

from faultlab.experiment.types import (
    Duration,
    EnvValue,
    HeaderName,
    HeaderValue,
    HostPort,
    HttpUrl,
    Rate,
    Strict,
)
from faultlab.plugins import Registry, check_kind_literal, discriminated_union
from faultlab.workload.clients.models import unsupported

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

    @field_validator("timeout")
    @classmethod
    def _timeout(cls, v: float) -> float:
        return _positive(v, "request")


class HistoryWorkload(WorkloadSpec):
    """Clients that record every operation as a history for the checkers (see ``checks``)."""

    kind: Literal["history"] = "history"
    client: Literal["kv-http", "redis", "postgres", "etcd"] = Field(
        description="Which client drives the store.")
    address: HostPort = Field(description="host:port of the store.")
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
        problem = unsupported(self.client, self.model)
        if problem is not None:
            message, hint = problem
            raise ValueError(f"{message}; {hint}")  # "; " separates the hint (errors.py)
        return self


#: a kind's factory: (workload name, its spec, the run's context) -> the running workload
WorkloadFactory = Callable[[str, Any, "WorkloadContext"], "Workload"]


@dataclass(frozen=True)
class WorkloadKind:
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
