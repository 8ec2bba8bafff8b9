"""The base of every fault kind's spec (its entry in an experiment's ``faults:`` list).

A kind's spec is a frozen pydantic model with a ``kind: Literal["name"]`` field and its own
parameters (with units, and a description each). What it applies to is class data, not a
field users can set: ``target_kinds`` (the kinds of target it acts on) and whether it is
``instantaneous`` (no duration, e.g. a kill). Which targets it addresses is
:meth:`FaultSpec.target_refs`: one ``target:`` by default; a kind that needs several (a
partition's ``from:``/``to:`` sides) overrides it, and the loader, the overlap check and the
runner all use it.
"""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import ConfigDict, Field

from faultlab.experiment.types import Duration, Name, Strict

__all__ = ["FaultSpec", "TargetRef"]

#: a reference to a target: its path in the fault's entry (for located errors) and its name
TargetRef = tuple[tuple[str | int, ...], str]

_BASE_FIELDS = ("kind", "name", "target", "start", "duration")


def _describe_kind(schema: dict[str, Any], cls: type) -> None:
    kind = schema.get("properties", {}).get("kind")
    if isinstance(kind, dict):
        doc = (cls.__doc__ or "").strip().split("\n\n")[0].replace("\n", " ")
        kind.setdefault("description", doc or "The fault kind.")


class FaultSpec(Strict):
    model_config = ConfigDict(extra="forbid", frozen=True, json_schema_extra=_describe_kind)

    kind: str
    name: Name | None = Field(default=None, description="Name in reports and journals; "
                              "default <kind>-<target>.")
    target: str | None = Field(default=None, description="The target (a name under "
                               "targets:) this fault acts on.")
    start: Duration = Field(default=0.0, description="When it is injected, from the start of "
                            "the fault phase.")
    duration: Duration = Field(default=0.0, description="How long it stays before it is "
                               "reverted.")

    #: kinds of target (proxy, process, host) this fault applies to
    target_kinds: ClassVar[frozenset[str]] = frozenset()
    #: applied once, never reverted (a kill); its duration must be 0
    instantaneous: ClassVar[bool] = False
    #: may not overlap in time with another exclusive fault on one of its targets
    exclusive: ClassVar[bool] = True
    #: the target when the entry names none (e.g. the local host for a command)
    default_target: ClassVar[str | None] = None
    #: acts only on a process faultlab started (a process target with ``service:``); the
    #: hint says what to use instead
    needs_service: ClassVar[str | None] = None

    @property
    def one_off(self) -> bool:
        """Applied once and never reverted (so it has no duration)."""
        return self.instantaneous

    def target_refs(self) -> list[TargetRef]:
        target = self.target if self.target is not None else self.default_target
        return [(("target",), target)] if target is not None else []

    @property
    def target_names(self) -> list[str]:
        return [name for _, name in self.target_refs()]

    @property
    def label(self) -> str:
        return self.name or f"{self.kind}-{'+'.join(self.target_names) or 'none'}"

    def params(self) -> dict[str, Any]:
        """The kind's own parameters as in the file (units kept), for journals and reports."""
        data: dict[str, Any] = self.model_dump(mode="json", exclude_none=True)
        for k in _BASE_FIELDS:
            data.pop(k, None)
        return data
