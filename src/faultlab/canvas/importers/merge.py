"""OpenSLO SLOs set into the journeys of an existing canvas, its text otherwise untouched.

The canvas is edited as text, not dumped again, so its comments, order and ``${vars}`` stay
as its authors wrote them: for each journey that OpenSLO names, the value of its ``slo:``
is replaced by a flow mapping (``{availability: 0.999, latency: {p99: 300ms}, window:
672h}``), which reads the same in block and in flow style; a journey without ``slo:`` gets
the key after its last entry. What OpenSLO says replaces what the canvas said of the same
objective; the rest of the canvas's ``slo:`` is kept.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from typing import Any

import yaml
from pydantic import ValidationError

from faultlab.canvas.importers.common import (
    Imported,
    ImportFileError,
    Report,
    Source,
    Text,
    compose_one,
    read_text,
)
from faultlab.canvas.importers.emit import scalar
from faultlab.canvas.importers.openslo import LatencyUnit, read_openslo
from faultlab.canvas.model import JourneySlo
from faultlab.experiment.errors import ExperimentError, Problem

__all__ = ["merge_openslo"]


def merge_openslo(canvas: Source, sources: Source | Iterable[Source], *,
                  latency_unit: LatencyUnit = "ms") -> Imported:
    """The canvas text of ``canvas`` (a file, or :class:`Text`) with the SLOs of its
    journeys set from the OpenSLO documents of ``sources``, matched by journey name (the
    ``faultlab/journey`` annotation, else the SLO's ``spec.service``, else its name).

    Raises :class:`ImportFileError` with every problem of either input, each located."""
    report = Report()
    name = canvas.name if isinstance(canvas, Text) else os.fspath(canvas)
    try:
        text = read_text(canvas, name)
        root, data = compose_one(text, name)
    except ExperimentError as e:
        raise ImportFileError(e.problems) from None
    journeys_node = _value(root, "journeys")
    if not isinstance(journeys_node, yaml.MappingNode):
        line, column = _at(journeys_node or root)
        raise ImportFileError([Problem(name, line, column, "journeys", "the canvas has no "
                                       "journeys mapping to set SLOs in", "add journeys: "
                                       "{NAME: {entry: ..., rps: ...}} first")])
    wanted = read_openslo(sources, report, latency_unit)
    edits: list[tuple[int, int, str]] = []
    for journey in wanted:
        node = _value(journeys_node, journey.name)
        if not isinstance(node, yaml.MappingNode):
            report.note(journey.slos[0].doc, (), f"the canvas has no journey "
                        f"'{journey.name}': its SLOs are not merged (rename it, or set the "
                        "faultlab/journey annotation)")
            continue
        had = data["journeys"][journey.name].get("slo")
        slo = {**(had if isinstance(had, dict) else {}), **journey.slo_fields()}
        if "${" not in str(slo):
            _check(slo, name, node, report)
        edits.append(_edit(text, node, scalar(slo)))
    report.check()
    for start, end, new in sorted(edits, reverse=True):
        text = text[:start] + new + text[end:]
    return Imported(text, tuple(report.notes))


def _check(slo: dict[str, Any], name: str, node: yaml.Node, report: Report) -> None:
    try:
        JourneySlo.model_validate(slo)
    except ValidationError as e:
        line, column = _at(node)
        report.problems.append(Problem(name, line, column, "", "the merged SLO does not "
                                       f"validate: {e.errors()[0]['msg']}", "fix the "
                                       "journey's slo: in the canvas, or the OpenSLO SLO"))


def _at(node: yaml.Node | None) -> tuple[int, int]:
    if node is None:
        return 1, 1
    return node.start_mark.line + 1, node.start_mark.column + 1


def _value(node: yaml.Node | None, key: str) -> yaml.Node | None:
    if not isinstance(node, yaml.MappingNode):
        return None
    return next((v for k, v in node.value if isinstance(k, yaml.ScalarNode) and k.value == key),
                None)


def _end(node: yaml.Node) -> int:
    """Where the text of ``node`` ends: a block collection's end mark lies past the comments
    and blank lines after it, so it ends where its last value does."""
    if isinstance(node, yaml.MappingNode | yaml.SequenceNode) and not node.flow_style:
        last = node.value[-1]
        return _end(last[1] if isinstance(last, tuple) else last)
    end: int = node.end_mark.index
    return end


def _edit(text: str, journey: yaml.MappingNode, flow: str) -> tuple[int, int, str]:
    """(start, end, new text) that sets the journey's ``slo:`` to ``flow``."""
    slo = _value(journey, "slo")
    if slo is not None:
        return slo.start_mark.index, _end(slo), flow
    if journey.flow_style:
        close = journey.end_mark.index - 1  # the '}'
        return close, close, (", " if journey.value else "") + f"slo: {flow}"
    indent = " " * journey.value[0][0].start_mark.column
    at = _end(journey)
    if at > 0 and text[at - 1] == "\n":  # a block scalar ends after its line break
        return at, at, f"{indent}slo: {flow}\n"
    line_end = text.find("\n", at)
    at = len(text) if line_end < 0 else line_end
    return at, at, f"\n{indent}slo: {flow}"
