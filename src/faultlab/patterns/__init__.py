"""The patterns library: a catalogue of infrastructure patterns, each with the canvas rules
that show it missing or misused and the experiment that checks it in a running system
(docs/patterns.md).

Names are imported lazily, so ``faultlab --help`` (which mounts :mod:`.cli`) does not load
the catalogue."""

from __future__ import annotations

from typing import Any

# ``catalogue()`` itself is faultlab.patterns.catalogue.catalogue: its module has its name
__all__ = ["CatalogueError", "Entry", "Family", "StaticRule", "Verification", "load_entries"]

_WHERE = {"CatalogueError": "catalogue", "load_entries": "catalogue",
          "Entry": "model", "Family": "model", "StaticRule": "model",
          "Verification": "model"}


def __getattr__(name: str) -> Any:
    if name not in _WHERE:
        raise AttributeError(name)
    import importlib

    return getattr(importlib.import_module(f"faultlab.patterns.{_WHERE[name]}"), name)
