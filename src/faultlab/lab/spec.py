"""A lab's file format: the hosts of a cluster on one machine, each a network namespace.

The same model is a lab file (``faultlab lab up LAB.yaml``, with ``version:`` and ``vars:``)
and an experiment's ``system.lab`` section. Addresses are deterministic: the hosts get
``.1``, ``.2``, ... of the subnet in the order they are written, and the machine itself
(the bridge) the last address of the subnet, so files and workloads can name them.
"""

from __future__ import annotations

import ipaddress
from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, Field, field_validator, model_validator

from faultlab.experiment.services import ProcessSpec
from faultlab.experiment.targets import LOCAL_HOST
from faultlab.experiment.types import Name, Strict

__all__ = ["LAB_NETWORK", "MAX_HOSTS", "LabFile", "LabHostSpec", "LabSpec"]

#: every lab address comes from here (RFC 2544's benchmarking range: never routed)
LAB_NETWORK = ipaddress.IPv4Network("198.18.0.0/15")
#: most hosts in one lab
MAX_HOSTS = 250


class LabHostSpec(Strict):
    """One host: a network namespace with one interface on the lab's bridge."""

    processes: dict[Name, ProcessSpec] = Field(default_factory=dict, description="Processes "
                                               "started inside the host (in this order) when "
                                               "the lab comes up, stopped when it goes down.")


def _subnet(value: object) -> object:
    if not isinstance(value, str):
        return value
    try:
        net = ipaddress.IPv4Network(value.strip(), strict=True)
    except ValueError as e:
        raise ValueError(f"not an IPv4 subnet: {e}; write e.g. 198.18.10.0/24") from None
    if not net.subnet_of(LAB_NETWORK):
        raise ValueError(f"{net} is outside {LAB_NETWORK}, the range labs use (it is never "
                         "routed, so a lab cannot shadow a real network); e.g. 198.18.10.0/24")
    if not 16 <= net.prefixlen <= 29:
        raise ValueError(f"a lab subnet is a /16 to a /29, not a /{net.prefixlen}; "
                         "e.g. 198.18.10.0/24")
    return str(net)


Subnet = Annotated[str, BeforeValidator(_subnet)]


class LabSpec(Strict):
    """N hosts, each a network namespace with its own address on a shared bridge."""

    name: Name = Field(description="The lab's name (unique on this machine): `faultlab lab "
                       "down NAME` removes it.")
    subnet: Subnet | None = Field(default=None, description="Its addresses, inside "
                                  "198.18.0.0/15, e.g. 198.18.10.0/24 (hosts get .1, .2, ... "
                                  "in file order; this machine the last); default: a free "
                                  "/24.")
    hosts: dict[Name, LabHostSpec] = Field(min_length=1, description="The hosts by name.")

    @field_validator("hosts")
    @classmethod
    def _hosts(cls, v: dict[str, LabHostSpec]) -> dict[str, LabHostSpec]:
        if len(v) > MAX_HOSTS:
            raise ValueError(f"a lab has at most {MAX_HOSTS} hosts, not {len(v)}")
        if LOCAL_HOST in v:
            raise ValueError(f"'{LOCAL_HOST}' is this machine; give the lab host another name")
        return v

    @model_validator(mode="after")
    def _room(self) -> LabSpec:
        if self.subnet is not None:
            room = ipaddress.IPv4Network(self.subnet).num_addresses - 3  # network, bridge, bcast
            if len(self.hosts) > room:
                raise ValueError(f"subnet {self.subnet} has {room} host addresses, the lab "
                                 f"needs {len(self.hosts)}; give a larger one, e.g. a /24")
        return self

    def addresses(self, subnet: str) -> tuple[dict[str, str], str]:
        """Each host's address in ``subnet`` (file order), and this machine's (the bridge)."""
        net = ipaddress.IPv4Network(subnet)
        hosts = {name: str(net.network_address + i) for i, name in enumerate(self.hosts, 1)}
        return hosts, str(net.broadcast_address - 1)


def _strict_version(value: object) -> object:
    if isinstance(value, bool) or (isinstance(value, float) and value.is_integer()):
        raise ValueError(f"expected a whole number, got {value!r}")
    return value


class LabFile(LabSpec):
    """A lab file (``faultlab lab up``): a lab, with a format version and vars."""

    version: Annotated[Literal[1], BeforeValidator(_strict_version)] = Field(
        default=1, description="File format version.")
    vars: dict[str, str | int | float | bool] = Field(default_factory=dict, description=(
        "Variables used as ${name}; --var overrides them."))

    def lab(self) -> LabSpec:
        data: dict[str, Any] = {k: getattr(self, k) for k in LabSpec.model_fields}
        return LabSpec(**data)
