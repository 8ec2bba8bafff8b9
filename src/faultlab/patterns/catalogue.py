"""The catalogue: every entry shipped in ``patterns/data/``, validated one by one and then
together (names unique and equal to their file stems, ``related`` names that exist, rule ids
registered in :data:`~faultlab.canvas.analysis.rules.ALL_RULES`, generators registered in
:data:`~faultlab.canvas.generate.GENERATORS`)."""

from __future__ import annotations

from collections.abc import Iterable
from functools import cache
from importlib import resources

import yaml
from pydantic import ValidationError

from faultlab.patterns.model import Entry, Family

__all__ = ["CatalogueError", "by_name", "catalogue", "load_entries", "problems"]


class CatalogueError(ValueError):
    """An entry that does not validate, or entries that do not fit together."""


def _read(stem: str, text: str) -> Entry:
    try:
        data = yaml.safe_load(text)
        return Entry.model_validate(data)
    except (yaml.YAMLError, ValidationError) as e:
        raise CatalogueError(f"{stem}.yaml: {e}") from None


def problems(entries: Iterable[Entry]) -> list[str]:
    """What does not fit across entries (empty: the catalogue is sound)."""
    from faultlab.canvas.analysis.rules import ALL_RULES
    from faultlab.canvas.generate import GENERATORS

    rules = {r.id: r for r in ALL_RULES}
    listed = list(entries)
    names = {e.name for e in listed}
    out: list[str] = []
    if len(names) != len(listed):
        out.append("two entries share a name")
    for e in listed:
        out += [f"{e.name}: related '{r}' is no entry" for r in e.related if r not in names]
        out += [f"{e.name}: related names itself" for r in e.related if r == e.name]
        for sr in e.static_rules:
            if sr.id not in rules:
                out.append(f"{e.name}: static rule '{sr.id}' is no canvas rule")
            elif str(rules[sr.id].severity) != sr.severity:
                out.append(f"{e.name}: static rule '{sr.id}' is {rules[sr.id].severity}, "
                           f"not {sr.severity}")
        gen = e.verification.generator
        if gen is not None and gen not in GENERATORS:
            out.append(f"{e.name}: generator '{gen}' has no experiment generator")
    return out


def load_entries(texts: dict[str, str]) -> tuple[Entry, ...]:
    """Entries from ``{stem: yaml text}``, in family order then by name."""
    entries = []
    for stem, text in sorted(texts.items()):
        entry = _read(stem, text)
        if entry.name != stem:
            raise CatalogueError(f"{stem}.yaml: name '{entry.name}' is not the file stem")
        entries.append(entry)
    found = problems(entries)
    if found:
        raise CatalogueError("; ".join(found))
    order = list(Family)
    return tuple(sorted(entries, key=lambda e: (order.index(e.family), e.name)))


@cache
def catalogue() -> tuple[Entry, ...]:
    """The shipped catalogue (read once)."""
    data = resources.files("faultlab.patterns") / "data"
    texts = {item.name.removesuffix(".yaml"): item.read_text(encoding="utf-8")
             for item in data.iterdir() if item.name.endswith(".yaml")}
    return load_entries(texts)


def by_name(name: str) -> Entry | None:
    return next((e for e in catalogue() if e.name == name), None)
