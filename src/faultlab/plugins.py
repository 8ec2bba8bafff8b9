"""Registries of plug-in kinds: fault kinds, host kinds, workload kinds, SLO sources.

Each registry maps a kind's name to its definition. faultlab's own kinds register when the
registry is first used; third-party packages add theirs through an entry point group (for
fault kinds ``faultlab.faults``), whose value is the definition object itself::

    [project.entry-points."faultlab.faults"]
    flood = "my_package.flood:KIND"

Nothing else in faultlab names a kind: the loader, the runner, undo and recover ask the
registry. A registry's ``version`` grows on every registration, so what is built from it
(the experiment model with its unions of kinds) can be cached and rebuilt when it changes.
"""

from __future__ import annotations

import importlib
import logging
import typing
from collections.abc import Callable, Iterator
from importlib.metadata import entry_points
from typing import Annotated, Any, Generic, Protocol, TypeVar

__all__ = ["Named", "PluginError", "Registry", "check_kind_literal", "discriminated_union"]

log = logging.getLogger(__name__)


class PluginError(Exception):
    """A plug-in could not be loaded or registered (a bug in that plug-in, for people)."""


class Named(Protocol):
    @property
    def name(self) -> str: ...


T = TypeVar("T", bound=Named)


class Registry(Generic[T]):
    """Kinds by name. ``builtins`` are module names imported on first use (each registers
    its kinds at import); ``group`` is the entry-point group third parties register in."""

    def __init__(self, what: str, group: str, builtins: tuple[str, ...] = (),
                 check: Callable[[T], None] | None = None) -> None:
        self.what = what
        self.group = group
        self._builtins = builtins
        self._check = check
        self._items: dict[str, T] = {}
        self._loaded = False
        self._loading = False
        self.version = 0

    def register(self, item: T, *, replace: bool = False) -> T:
        if self._check is not None:
            self._check(item)
        if item.name in self._items and not replace and self._items[item.name] is not item:
            raise PluginError(f"{self.what} '{item.name}' is registered twice")
        self._items[item.name] = item
        self.version += 1
        return item

    def unregister(self, name: str) -> None:
        if self._items.pop(name, None) is not None:
            self.version += 1

    def _load(self) -> None:
        if self._loaded or self._loading:
            return
        self._loading = True
        try:
            for module in self._builtins:
                importlib.import_module(module)
            for ep in entry_points(group=self.group):
                try:
                    item = ep.load()
                except Exception as e:  # one broken plug-in must not break faultlab
                    log.warning("%s plug-in %s (%s) failed to load: %s", self.what, ep.name,
                                ep.value, e)
                    continue
                if not hasattr(item, "name"):
                    log.warning("%s plug-in %s (%s) is not a %s definition", self.what,
                                ep.name, ep.value, self.what)
                    continue
                self.register(item, replace=True)
            self._loaded = True
        finally:
            self._loading = False

    def get(self, name: str) -> T | None:
        self._load()
        return self._items.get(name)

    def __getitem__(self, name: str) -> T:
        item = self.get(name)
        if item is None:
            raise KeyError(f"no {self.what} named '{name}'")
        return item

    def names(self) -> tuple[str, ...]:
        self._load()
        return tuple(self._items)

    def __iter__(self) -> Iterator[T]:
        self._load()
        return iter(list(self._items.values()))

    def current_version(self) -> int:
        self._load()
        return self.version


def check_kind_literal(what: str, name: str, spec: type[Any]) -> None:
    """A kind's spec must carry ``kind: Literal[name]`` (its tag in the union of kinds)."""
    field = getattr(spec, "model_fields", {}).get("kind")
    if field is None or typing.get_args(field.annotation) != (name,):
        raise PluginError(f"{what} '{name}': its spec {spec.__name__} needs "
                          f"kind: Literal['{name}']")


def discriminated_union(specs: tuple[type[Any], ...]) -> Any:
    """The pydantic union of kind specs, told apart by their ``kind`` tag."""
    from pydantic import Field

    if len(specs) == 1:
        return Annotated[specs[0], Field(discriminator="kind")]
    return Annotated[typing.Union[specs], Field(discriminator="kind")]  # noqa: UP007
