"""The patterns library: a catalogue of infrastructure patterns, each with the canvas rules
that show it missing or misused and the experiment that checks it in a running system
(docs/patterns.md)."""

from __future__ import annotations

from faultlab.patterns.catalogue import CatalogueError, catalogue, load_entries
from faultlab.patterns.model import Entry, Family, StaticRule, Verification

__all__ = ["CatalogueError", "Entry", "Family", "StaticRule", "Verification", "catalogue",
           "load_entries"]
