"""Report sections: the unit a report is built from, and the registry that orders them.

A section is any object with ``id``, ``title``, ``slot`` and ``render(ctx)``; it gets every
run of the report (one, or several for a comparison) and returns HTML and Markdown, or
``None`` when it has nothing to say about these runs. Checkers and fault kinds contribute
their own sections with :func:`register_section`; the page only knows slots::

    BANNER    the answer (verdict), first
    FINDINGS  what failed and why
    CHARTS    time series on the shared time axis
    DETAILS   tables: clauses, faults, timeline, reproduction

A section's HTML must escape everything that comes from files (use
:func:`faultlab.report.text.esc`); charts are passed as data (``Rendered.charts``) and
drawn by the page's script into ``<div class="chart" data-chart="ID">`` placeholders.

A section that raises is reported inside the page as a failed section; it never stops the
report (a broken plug-in must not hide the verdict).
"""

from __future__ import annotations

import traceback
from enum import IntEnum
from typing import Any, Protocol, runtime_checkable

import msgspec

from faultlab.report.model import RunData

__all__ = ["Rendered", "ReportContext", "Section", "Slot", "register_section",
           "registered_sections", "render_sections", "unregister_section"]


class Slot(IntEnum):
    BANNER = 0
    FINDINGS = 10
    CHARTS = 20
    DETAILS = 30


class Rendered(msgspec.Struct, frozen=True):
    html: str
    markdown: str
    charts: list[dict[str, Any]] = msgspec.field(default_factory=list)


class ReportContext(msgspec.Struct, frozen=True):
    runs: list[RunData]
    labels: list[str]  # one short, distinct label per run

    @property
    def comparison(self) -> bool:
        return len(self.runs) > 1


@runtime_checkable
class Section(Protocol):
    @property
    def id(self) -> str: ...

    @property
    def title(self) -> str: ...

    @property
    def slot(self) -> Slot: ...

    def render(self, ctx: ReportContext) -> Rendered | None: ...


_REGISTRY: dict[str, Section] = {}


def register_section(section: Section) -> Section:
    """Add (or replace, by ``id``) a section. Returns it, so it can decorate an instance
    factory's result or be used inline."""
    if not isinstance(section, Section):
        raise TypeError(f"{section!r} is not a report section (needs id, title, slot, render)")
    _REGISTRY[section.id] = section
    return section


def unregister_section(section_id: str) -> None:
    _REGISTRY.pop(section_id, None)


def registered_sections() -> list[Section]:
    """In slot order; within a slot, in registration order."""
    order = {sid: i for i, sid in enumerate(_REGISTRY)}
    return sorted(_REGISTRY.values(), key=lambda s: (int(s.slot), order[s.id]))


class Placed(msgspec.Struct, frozen=True):
    section: Section
    rendered: Rendered


def render_sections(ctx: ReportContext) -> list[Placed]:
    from faultlab.report.text import esc

    out = []
    for section in registered_sections():
        try:
            rendered = section.render(ctx)
        except Exception as e:
            tb = traceback.format_exception(e)[-1].strip()
            rendered = Rendered(
                f'<p class="section-error">This section could not be drawn: {esc(tb)}</p>',
                f"_This section could not be drawn: {tb}_")
        if rendered is not None:
            out.append(Placed(section, rendered))
    return out
