"""A canvas as YAML text with comments: where each part came from, and what its source
could not say (``# TODO: ...``), next to the part it concerns.

The text is written here rather than dumped, so that the comments sit above their parts;
every value goes through :func:`scalar`, which writes a plain scalar only where YAML reads it
back as the same string, so whatever names and descriptions the input held, the text loads
to exactly the canvas built.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal

import yaml

__all__ = ["Part", "canvas_yaml", "comment", "scalar"]

_PLAIN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_./%-]*")


def scalar(value: object) -> str:
    """``value`` as a YAML scalar (or flow mapping) that reads back equal."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):  # no exponent: YAML 1.1 reads 1e-05 as text
        return format(Decimal(repr(value)), "f")
    if isinstance(value, Mapping):
        return "{" + ", ".join(f"{scalar(k)}: {scalar(v)}" for k, v in value.items()) + "}"
    text = str(value)
    if _PLAIN.fullmatch(text) and yaml.safe_load(text) == text:
        return text
    quoted: str = yaml.safe_dump(text, default_style='"', width=1 << 30, allow_unicode=False)
    return quoted.strip()


def comment(text: str) -> str:
    """One comment line: what the input said, with anything that could end the line (or be
    no character YAML reads) as a space."""
    return ("# " + "".join(c if c.isprintable() else " " for c in text)).rstrip()


@dataclass
class Part:
    """A service, datastore, dependency or journey: its fields and the comments above it."""

    name: str
    fields: dict[str, object]
    comments: list[str] = field(default_factory=list)


def canvas_yaml(header: Iterable[str], top: Mapping[str, object],
                sections: Mapping[str, list[Part]], footer: Iterable[str] = ()) -> str:
    """The canvas file: ``header`` comments, the top-level scalars ``top`` (version, name,
    description), then each section: ``dependencies`` as a list, the others as mappings
    by name. An empty section is left out."""
    lines = [comment(h) for h in header]
    lines += [f"{key}: {scalar(value)}" for key, value in top.items()]
    for section, parts in sections.items():
        if not parts:
            continue
        lines.append(f"{section}:")
        for part in parts:
            lines += ["  " + comment(c) for c in part.comments]
            if section == "dependencies":
                items = list(part.fields.items())
                lines += [("  - " if i == 0 else "    ") + f"{k}: {scalar(v)}"
                          for i, (k, v) in enumerate(items)]
            else:
                lines.append(f"  {scalar(part.name)}:")
                lines += [f"    {k}: {scalar(v)}" for k, v in part.fields.items()]
                if not part.fields:
                    lines[-1] += " {}"
    lines += [comment(f) for f in footer]
    return "\n".join(lines) + "\n"
