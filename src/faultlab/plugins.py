"""Registries of plug-in kinds: fault kinds, host kinds, workload kinds, SLO sources.

Each registry maps a kind's name to its definition. faultlab's own kinds register when the
registry is first used; third-party packages add theirs through an entry point group (for
fault kinds ``faultlab.faults``), whose value is the definition object itself::

    [project.entry-points."faultlab.faults"]
    flood = "my_package.flood:KIND"

Nothing else in faultlab names a kind: the loader, the runner, undo and recover ask the
registry. A registry's ``version`` grows on every registration.

Start-up cost: a registry with an ``index`` (the fault kinds) imports a builtin kind's
module only when that kind is first asked for, so validating an experiment with one kill
fault imports the kill fault and none of the other 23. Entry points are read through
:mod:`importlib.metadata` (whose import alone costs tens of milliseconds: email, zipfile,
csv) only when some distribution on ``sys.path`` declares the registry's group, which
:func:`declared_groups` tells from the ``entry_points.txt`` files themselves.
"""

from __future__ import annotations

import importlib
import os
import re
import sys
import typing
from collections.abc import Callable, Iterator, Mapping
from typing import Annotated, Any, Generic, Protocol, TypeVar

__all__ = ["ByKind", "Lazy", "Named", "PluginError", "Registry", "check_kind_literal",
           "declared_groups", "discriminated_union", "skip_pydantic_plugin_scan",
           "union_adapter"]


class PluginError(Exception):
    """A plug-in could not be loaded or registered (a bug in that plug-in, for people)."""


class Named(Protocol):
    @property
    def name(self) -> str: ...


T = TypeVar("T", bound=Named)


class Registry(Generic[T]):
    """Kinds by name. ``builtins`` are module names imported on first use (each registers
    its kinds at import); ``index`` maps builtin kinds' names to ``"module:ATTRIBUTE"``,
    each imported when its name is first asked for (and all of them when the registry is
    iterated); ``group`` is the entry-point group third parties register in, read on first
    use. A plug-in's kind replaces a builtin of the same name."""

    def __init__(self, what: str, group: str, builtins: tuple[str, ...] = (),
                 check: Callable[[T], None] | None = None, *,
                 index: Mapping[str, str] | None = None) -> None:
        self.what = what
        self.group = group
        self._builtins = builtins
        self._index = dict(index or {})
        self._check = check
        self._items: dict[str, T] = {}
        self._indexed: set[str] = set()  # index names imported, or replaced by a plug-in
        self._builtins_loaded = False
        self._plugins_loaded = False
        self._loading = False
        self.version = 0

    def register(self, item: T, *, replace: bool = False) -> T:
        if item.name in self._index:
            if replace:
                self._indexed.add(item.name)  # the builtin is not imported over it later
            else:
                self._load_indexed(item.name)  # so that a second kind of its name is refused
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

    def _load_indexed(self, name: str) -> None:
        """Import the builtin kind ``name``, unless it was or a plug-in replaced it."""
        if name in self._indexed:
            return
        self._indexed.add(name)
        if name not in self._items:
            module, _, attr = self._index[name].partition(":")
            self.register(getattr(importlib.import_module(module), attr))

    def _load_plugins(self) -> None:
        """The builtin modules, then the entry points (whose kinds replace builtins)."""
        if self._plugins_loaded or self._loading:
            return
        self._loading = True
        try:
            if not self._builtins_loaded:
                for module in self._builtins:
                    importlib.import_module(module)
                self._builtins_loaded = True
            groups = declared_groups()
            if groups is None or self.group in groups:
                self._read_entry_points()
            self._plugins_loaded = True
        finally:
            self._loading = False

    def _read_entry_points(self) -> None:
        import logging  # here: the quick commands never log, and logging costs ~3 ms
        from importlib.metadata import entry_points

        log = logging.getLogger(__name__)

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

    def _load(self) -> None:
        self._load_plugins()
        for name in self._index:
            self._load_indexed(name)

    def get(self, name: str) -> T | None:
        self._load_plugins()
        if name in self._index:
            self._load_indexed(name)
        return self._items.get(name)

    def __getitem__(self, name: str) -> T:
        item = self.get(name)
        if item is None:
            raise KeyError(f"no {self.what} named '{name}'")
        return item

    def names(self) -> tuple[str, ...]:
        """Every kind's name, builtins first in their index's order; imports no index
        kind."""
        self._load_plugins()
        return (*(n for n in self._index if n in self._items or n not in self._indexed),
                *(n for n in self._items if n not in self._index))

    def __iter__(self) -> Iterator[T]:
        self._load()
        return iter([self._items[n] for n in self.names()])

    def current_version(self) -> int:
        self._load()
        return self.version


# --- which entry-point groups are declared, without importlib.metadata ---------------------

_SECTION = re.compile(r"^[ \t]*\[[ \t]*([^\]\n]*?)[ \t]*\][ \t]*$", re.M)


_DECLARED: dict[tuple[tuple[str, int], ...], frozenset[str] | None] = {}


def declared_groups() -> frozenset[str] | None:
    """The entry-point groups the distributions on ``sys.path`` declare, read from their
    ``entry_points.txt`` (``*.dist-info`` and ``*.egg-info`` directories) without importing
    :mod:`importlib.metadata`; None when the path holds something only importlib.metadata
    can read (a zip file, an egg, a finder with distributions of its own), so the caller
    asks importlib.metadata. A group listed here may have no usable entry point; a group
    not listed has none. Kept while ``sys.path`` and its directories' mtimes stay the
    same (installing or removing a distribution changes its directory's)."""
    if any(hasattr(finder, "find_distributions") and not _is_path_finder(finder)
           for finder in sys.meta_path):
        return None
    key = tuple((entry, _mtime(entry or ".")) for entry in sys.path)
    if key not in _DECLARED:
        _DECLARED.clear()
        _DECLARED[key] = _read_groups()
    return _DECLARED[key]


def _mtime(path: str) -> int:
    try:
        return os.stat(path).st_mtime_ns
    except OSError:
        return -1


def _read_groups() -> frozenset[str] | None:
    groups: set[str] = set()
    for entry in sys.path:
        root = entry or "."
        if root.endswith(".egg"):
            return None
        try:
            names = os.listdir(root)
        except NotADirectoryError:
            return None  # a zip file on the path
        except OSError:
            continue  # a missing directory holds nothing
        for name in names:
            if not name.lower().endswith((".dist-info", ".egg-info")):
                continue
            try:
                with open(os.path.join(root, name, "entry_points.txt"),
                          encoding="utf-8", errors="replace") as f:
                    text = f.read()
            except OSError:
                continue  # no entry points (or an egg-info file, which has none)
            groups.update(_SECTION.findall(text))
    return frozenset(groups)


#: pydantic versions whose plug-in loader is only ``get_plugins()`` (checked by a test)
_PYDANTIC_LOADER_KNOWN = ("2.",)


def skip_pydantic_plugin_scan() -> None:
    """Tell pydantic it has no plug-ins when no distribution declares one, before it looks.

    pydantic reads its plug-ins (entry point group ``pydantic``) when it builds its first
    validator, through :mod:`importlib.metadata`, whose import alone is ~15-40 ms of a
    ``faultlab validate`` here. When :func:`declared_groups` shows that no distribution on
    the path declares the group, that search can only find nothing, so its answer (no
    plug-ins) is given in its place: the loader module becomes one whose ``get_plugins()``
    returns none. With a plug-in installed, a path only importlib.metadata can read, or a
    pydantic this was not made for, nothing changes. For the ``faultlab`` command's own
    process only (cli.py calls it); a library must not do this in its user's process."""
    name = "pydantic.plugin._loader"
    if name in sys.modules:
        return  # pydantic has looked already
    groups = declared_groups()
    if groups is None or "pydantic" in groups or not _pydantic_known():
        return
    import types

    loader = types.ModuleType(name, "pydantic's plug-in loader, for a path without any "
                              "(faultlab.plugins.skip_pydantic_plugin_scan)")
    loader.get_plugins = lambda: ()  # type: ignore[attr-defined]
    sys.modules[name] = loader


def _pydantic_known() -> bool:
    from pydantic.version import VERSION

    return VERSION.startswith(_PYDANTIC_LOADER_KNOWN)


def _is_path_finder(finder: object) -> bool:
    from importlib.machinery import PathFinder

    return finder is PathFinder or isinstance(finder, PathFinder)


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


class ByKind:
    """Pydantic metadata for a field of kinds, ``Annotated[FaultSpec, ByKind(FAULT_KINDS)]``:
    a value is validated as the discriminated union of every registered kind would validate
    it, without building that union. A mapping whose ``kind`` names a registered kind goes
    to that kind's spec alone (its schema built, and its module imported, when a file first
    uses it); anything else (an unknown kind, none, not a mapping) goes to the whole union,
    so its errors are the union's own. Values dump through their own spec. The JSON Schema
    of experiment files is built from the unions themselves
    (:func:`faultlab.experiment.model.experiment_json_schema`)."""

    def __init__(self, registry: Registry[Any]) -> None:
        self.registry = registry

    def __get_pydantic_core_schema__(self, source: Any, handler: Any) -> Any:
        from pydantic_core import core_schema

        return core_schema.no_info_plain_validator_function(self.validate)

    def specs(self) -> tuple[type[Any], ...]:
        """Every registered kind's spec (importing them all)."""
        return tuple(k.spec for k in self.registry)

    def spec(self, kind: object) -> type[Any] | None:
        """The spec of the registered kind named ``kind``, if it is one."""
        item = self.registry.get(kind) if isinstance(kind, str) else None
        return item.spec if item is not None else None

    def validate(self, value: object) -> Any:
        if isinstance(value, dict):
            spec = self.spec(value.get("kind"))
            if spec is not None:
                return union_adapter((spec,)).validate_python(value)
        elif type(value) is self.spec(getattr(value, "kind", None)):
            return value  # a spec instance of its own kind, which the union takes as it is
        return union_adapter(self.specs()).validate_python(value)


class Lazy:
    """Pydantic metadata for a section whose models live in a module a file may not need,
    ``Annotated[Any, Lazy(lambda: list[Slo])]`` (the function importing ``Slo``): a value is
    validated as that type would validate it, its module imported and its schema built when
    a file first gives the section (a file without SLOs imports no SLO spec). Errors are the
    type's own, at the section's location; values dump through their own models; a JSON
    Schema describes the real type (and imports it)."""

    def __init__(self, resolve: Callable[[], Any]) -> None:
        self.resolve = resolve
        self._adapter: Any = None

    def __get_pydantic_core_schema__(self, source: Any, handler: Any) -> Any:
        from pydantic_core import core_schema

        return core_schema.no_info_plain_validator_function(self.validate)

    def __get_pydantic_json_schema__(self, schema: Any, handler: Any) -> Any:
        """The real type's JSON Schema (for a model that embeds the section)."""
        return handler(self.adapter().core_schema)

    def adapter(self) -> Any:
        if self._adapter is None:
            from pydantic import TypeAdapter

            self._adapter = TypeAdapter(self.resolve())
        return self._adapter

    def validate(self, value: object) -> Any:
        return self.adapter().validate_python(value)


_ADAPTERS: dict[tuple[type[Any], ...], Any] = {}


def union_adapter(specs: tuple[type[Any], ...]) -> Any:
    """A pydantic TypeAdapter of :func:`discriminated_union` of ``specs`` (kept: one per
    kind, and the whole union's as it is after each registration)."""
    adapter = _ADAPTERS.get(specs)
    if adapter is None:
        from pydantic import TypeAdapter

        if len(_ADAPTERS) > 256:  # kinds registered and removed over and over (tests)
            _ADAPTERS.clear()
        adapter = _ADAPTERS[specs] = TypeAdapter(discriminated_union(specs))
    return adapter
