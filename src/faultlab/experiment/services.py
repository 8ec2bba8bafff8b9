"""Processes faultlab starts: a service of an experiment (``system.services``) or a process of
a lab host (``lab.hosts.<host>.processes``), and how to tell each one is ready."""

from __future__ import annotations

from pydantic import Field, model_validator

from faultlab.experiment.targets import LOCAL_HOST
from faultlab.experiment.types import (
    Command,
    Duration,
    EnvKey,
    EnvValue,
    FilePath,
    HostPort,
    HttpUrl,
    Name,
    Strict,
)

__all__ = ["ProcessSpec", "ReadyCheck", "ServiceSpec"]


class ReadyCheck(Strict):
    """How to tell a service is ready: one of an HTTP URL (2xx/3xx), a TCP address, a command."""

    http: HttpUrl | None = Field(default=None, description="Ready when this URL answers 2xx/3xx.")
    tcp: HostPort | None = Field(default=None, description="Ready when this address accepts "
                                 "a connection.")
    command: Command | None = Field(default=None, description="Ready when this command "
                                    "exits 0.")
    timeout: Duration = Field(default=15.0, description="How long to wait for readiness.")
    interval: Duration = Field(default=0.1, description="Time between readiness probes.")

    @model_validator(mode="after")
    def _one_kind(self) -> ReadyCheck:
        given = [k for k in ("http", "tcp", "command") if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError("give exactly one of http, tcp, command")
        return self


class ProcessSpec(Strict):
    """A process faultlab starts, checks for readiness and stops."""

    command: Command = Field(description="The command (a string split like a shell would, "
                             "or a list).")
    cwd: FilePath | None = Field(default=None, description="Working directory.")
    env: dict[EnvKey, EnvValue] = Field(default_factory=dict, description="Extra environment "
                                "variables.")
    ready: ReadyCheck | None = Field(default=None, description="How to tell it is ready; "
                                     "without one it is ready once started.")
    stop_timeout: Duration = Field(default=5.0, description="Time between SIGTERM and "
                                   "SIGKILL when it is stopped.")


class ServiceSpec(ProcessSpec):
    """A process faultlab starts before the experiment and stops after it, on this machine or
    inside a lab host."""

    host: Name = Field(default=LOCAL_HOST, description="Where it runs: local (this machine) "
                       "or a host of system.lab (inside that host's network namespace).")
