"""Targets: what a fault acts on (a proxy endpoint, processes on a host, a host itself),
and what each one is in the world (its identity), so two names for one thing are one target.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, model_validator

from faultlab.experiment.addresses import host_port_identity, url_identity
from faultlab.experiment.types import (
    ApiToken,
    FilePath,
    HostPort,
    HttpUrl,
    Name,
    ProcessName,
    Strict,
)

__all__ = ["LOCAL_HOST", "ProcessTarget", "ProxyTarget", "Target"]


#: the host every experiment has: the machine faultlab runs on
LOCAL_HOST = "local"


class ProxyTarget(Strict):
    """A TCP endpoint behind faultlab's proxy: clients connect to ``listen``, which forwards to
    ``upstream``. With ``api`` (and ``name``) an already running proxy server is used instead."""

    listen: HostPort | None = Field(default=None, description="Address clients connect to.")
    upstream: HostPort | None = Field(default=None, description="Address of the real service.")
    api: HttpUrl | None = Field(default=None, description="Control API of an already running "
                                "proxy server (faultlab's or Toxiproxy), e.g. "
                                "http://127.0.0.1:8474.")
    name: Name | None = Field(default=None, description="The proxy's name on that server.")
    token: ApiToken | None = Field(default=None, description="API token of that server (use "
                              "${env:NAME}).")
    observe: bool = Field(default=False, description="Record every connection and HTTP "
                          "request through it (what reached the upstream, and when) in the "
                          "run's observations.jsonl, result.json and report; the evidence "
                          "of `faultlab patterns verify`. Only for faultlab's own proxy.")

    @model_validator(mode="after")
    def _shape(self) -> ProxyTarget:
        if self.api is None and (self.listen is None or self.upstream is None):
            raise ValueError("a proxy target needs listen and upstream; or give api and name "
                             "of an already running proxy")
        if self.api is not None and self.name is None:
            raise ValueError("a proxy target with api needs the proxy's name")
        if self.api is not None and self.observe:
            raise ValueError("observe needs faultlab's own proxy (listen and upstream, no "
                             "api): an external server's proxies are not observed")
        if self.api is None and (self.name is not None or self.token is not None):
            raise ValueError("name and token belong to an external proxy (with api); "
                             "faultlab names its own proxies after the target")
        return self


class ProcessTarget(Strict):
    """Processes on a host: one faultlab started (``service``), or found by pid file, name
    or pid."""

    service: Name | None = Field(default=None, description="A service under system.services.")
    pidfile: FilePath | None = Field(default=None, description="A file holding the pid.")
    name: ProcessName | None = Field(default=None, description="Every process with this "
                                     "command name.")
    pid: Annotated[int, Field(gt=0, lt=1 << 22)] | None = Field(
        default=None, description="One process by its pid (its start time is checked before "
        "every signal, so a reused pid is never hit).")
    host: Name = Field(default=LOCAL_HOST, description="The host the processes run on.")

    @model_validator(mode="after")
    def _one_kind(self) -> ProcessTarget:
        kinds = ("service", "pidfile", "name", "pid")
        given = [k for k in kinds if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError("give exactly one of service, pidfile, name, pid")
        return self


class Target(Strict):
    """What a fault acts on: exactly one of a proxy endpoint, processes, or a host itself."""

    proxy: ProxyTarget | None = Field(default=None, description="A TCP endpoint behind a "
                                      "fault proxy.")
    process: ProcessTarget | None = Field(default=None, description="Processes on a host.")
    host: Name | None = Field(default=None, description="A host itself (command faults, "
                              "kernel faults): local or a name under hosts:.")

    @model_validator(mode="after")
    def _one_kind(self) -> Target:
        if sum(v is not None for v in (self.proxy, self.process, self.host)) != 1:
            raise ValueError("a target is exactly one of proxy, process, host")
        return self

    @property
    def kind(self) -> Literal["proxy", "process", "host"]:
        if self.proxy is not None:
            return "proxy"
        return "process" if self.process is not None else "host"

    @property
    def host_name(self) -> str:
        if self.process is not None:
            return self.process.host
        return self.host or LOCAL_HOST

    def identity(self) -> tuple[str, ...]:
        """What the target is in the world; two targets with one identity are one thing."""
        if self.proxy is not None:
            if self.proxy.api is not None:
                return ("proxy", *map(str, url_identity(self.proxy.api)), self.proxy.name or "")
            return ("proxy", *map(str, host_port_identity(self.proxy.listen or "")))
        if self.process is not None:
            p = self.process
            how = next(k for k in ("service", "pidfile", "name", "pid")
                       if getattr(p, k) is not None)
            return ("process", p.host, how, str(getattr(p, how)))
        return ("host", self.host or LOCAL_HOST)


