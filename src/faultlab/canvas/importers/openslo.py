"""OpenSLO v1 documents (``apiVersion: openslo/v1``) as the SLOs of canvas journeys.

An OpenSLO SLO gives an objective (``target`` 0.999 or ``targetPercent`` 99.9) over an
indicator and a window (``timeWindow[0].duration``, ``28d``). It maps to a journey's SLO:

- a **ratio** indicator (``ratioMetric``: good/total, bad/total or raw) is the journey's
  ``availability``: the share of requests that succeed; with several objectives, the
  strictest;
- a **threshold** indicator (``thresholdMetric``) with ``op: lte`` (or ``lt``) and a
  ``value`` is a latency bound: ``target`` is the share of requests at most that slow, so
  0.99 is ``p99`` (0.5 p50, 0.9 p90, 0.95 p95, 0.999 p999, 1 max; another target is taken
  as the next stricter percentile, with a note). ``value`` is a number of milliseconds
  (``latency_unit="s"`` reads seconds), or a duration with its unit (``"300ms"``);
- the window's shorthand ``Nm``, ``Nh``, ``Nd``, ``Nw`` is exact; ``NM``, ``NQ``, ``NY``
  are taken as 30, 90 and 365 days (the canvas bounds a window at 366 days).

The SLOs of one journey are those naming one OpenSLO Service (``spec.service``) or, first,
the annotation ``faultlab/journey`` that :mod:`faultlab.canvas.export` writes; they make one
journey when they fit one (one availability, one latency, one window), else each SLO is a
journey of its own. OpenSLO does not say which service users call (the journey's ``entry``)
nor its traffic (``rps``): :func:`import_openslo` writes placeholders marked ``# TODO``
(unless the ``faultlab/entry`` and ``faultlab/rps`` annotations say), and
:func:`merge_openslo` sets the SLOs of the journeys of an existing canvas instead.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Literal

from faultlab.canvas.importers.common import (
    Document,
    Imported,
    Report,
    Source,
    canvas_name,
    finish,
    nothing,
    read_documents,
    sources_of,
    text_of,
)
from faultlab.canvas.importers.emit import Part, canvas_yaml
from faultlab.experiment.types import MAX_DURATION, dump_duration
from faultlab.experiment.yamlpos import Path, suggest
from faultlab.slo.spec import PERCENTILES
from faultlab.units import parse_duration, parse_rate

__all__ = ["KINDS", "JourneySlos", "envelope", "import_openslo", "latency_value",
           "objective_target", "percentile_of", "read_openslo", "time_window", "window_text"]

KINDS = ("Service", "SLO", "SLI", "DataSource", "AlertPolicy", "AlertCondition",
         "AlertNotificationTarget")
#: annotations faultlab writes on exported SLOs, and reads back
JOURNEY, OBJECTIVE, PERCENTILE = "faultlab/journey", "faultlab/objective", "faultlab/percentile"
ENTRY, RPS = "faultlab/entry", "faultlab/rps"
_WINDOW = re.compile(r"([1-9][0-9]{0,8})([mhdwMQY])")
_UNIT_SECONDS = {"m": 60, "h": 3600, "d": 86400, "w": 7 * 86400, "M": 30 * 86400,
                 "Q": 90 * 86400, "Y": 365 * 86400}
_NOT_SAID = "OpenSLO does not say"
LatencyUnit = Literal["ms", "s"]


@dataclass
class SloRead:
    """What one OpenSLO SLO says, in the canvas's terms."""

    name: str
    doc: Document
    group: str  # the journey it belongs to: its faultlab/journey, service, or own name
    service: str | None
    entry: str | None
    rps: str | None
    availability: float | None = None
    latency: tuple[str, float] | None = None  # (percentile, seconds)
    window: float | None = None  # None: the SLO gives none


@dataclass
class JourneySlos:
    """The SLOs of one journey, as read from OpenSLO: what a canvas journey's ``slo:``
    holds (``window`` None when no SLO gave one) and where they came from."""

    name: str
    slos: list[SloRead]
    service: str | None
    entry: str | None
    rps: str | None
    availability: float | None
    latency: tuple[str, float] | None
    window: float | None

    def slo_fields(self) -> dict[str, object]:
        """The journey's ``slo:`` as YAML values (a duration with its unit)."""
        out: dict[str, object] = {}
        if self.availability is not None:
            out["availability"] = self.availability
        if self.latency is not None:
            out["latency"] = {self.latency[0]: dump_duration(self.latency[1])}
        if self.window is not None:
            out["window"] = window_text(self.window)
        return out


def window_text(seconds: float) -> str:
    """A window as the canvas writes it: whole hours (``672h``) or minutes where exact."""
    for unit, size in (("h", 3600), ("m", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{int(seconds // size)}{unit}"
    return dump_duration(seconds)


def import_openslo(sources: Source | Iterable[Source], *, name: str | None = None,
                   latency_unit: LatencyUnit = "ms") -> Imported:
    """A canvas with one journey per OpenSLO Service (or SLO) of ``sources``, its SLOs set
    from theirs; entry services and traffic are placeholders marked ``# TODO``.

    Raises :class:`ImportFileError` with every problem, each located."""
    report = Report()
    journeys = read_openslo(sources, report, latency_unit)
    services: dict[str, Part] = {}
    parts: list[Part] = []
    for journey in journeys:
        entry = journey.entry or canvas_name(journey.service or journey.name)
        comments = [f"from {s.doc.source}:{s.doc.at(())[0]}: slo:{s.name}"
                    + (f" (service {s.service})" if s.service else "") for s in journey.slos]
        if journey.entry is None or journey.rps is None:
            comments.append(f"TODO: entry and rps — {_NOT_SAID}; '{entry}' and 1/s are "
                            "placeholders")
            report.note(journey.slos[0].doc, (), f"journey '{journey.name}': entry "
                        f"'{entry}' and rps 1/s are placeholders ({_NOT_SAID})")
        if journey.window is None:
            report.note(journey.slos[0].doc, ("spec",), f"journey '{journey.name}': no "
                        "timeWindow; the canvas's default window (30 days) is used")
        parts.append(Part(journey.name, {"entry": entry, "rps": journey.rps or "1/s",
                                         "slo": journey.slo_fields()}, comments))
        services.setdefault(entry, Part(entry, {"description": "Entry of journey "
                                                f"{journey.name} (placeholder)"},
                                        [f"TODO: a placeholder for the service users call — "
                                         f"{_NOT_SAID}; nor its instances or dependencies"]))
    report.check()
    named = {j.service for j in journeys}
    only = named.pop() if len(named) == 1 else None
    top = {"version": 1, "name": canvas_name(name or only or "openslo"),
           "description": "SLOs imported from OpenSLO"}
    header = ["Canvas imported by faultlab from OpenSLO documents: "
              + ", ".join(sorted({s.doc.source for j in journeys for s in j.slos})),
              "OpenSLO says what is promised (objectives, windows); it does not say which",
              "services serve a journey, how they depend on each other, or how much traffic",
              "a journey has: those parts below are placeholders (each TODO marks one)."]
    return finish(canvas_yaml(header, top, {"services": list(services.values()),
                                            "journeys": parts}), report)


def read_openslo(sources: Source | Iterable[Source], report: Report,
                 latency_unit: LatencyUnit = "ms") -> list[JourneySlos]:
    """The journeys the OpenSLO documents of ``sources`` describe, problems and notes in
    ``report`` (checked: it raises :class:`ImportFileError` when there are problems)."""
    given = sources_of(sources)
    docs = read_documents(given, report)
    report.check()
    slis: dict[str, tuple[Document, Any]] = {}
    slos: list[tuple[Document, str, dict[str, Any]]] = []
    for doc in docs:
        read = envelope(doc, report)
        if read is None:
            continue
        kind, name = read
        if kind == "SLI":
            slis[name] = (doc, doc.data.get("spec"))
        elif kind == "SLO":
            slos.append((doc, name, doc.data.get("spec")))
        elif kind != "Service":
            report.note(doc, ("kind",), f"{kind} '{name}' skipped: a canvas has no place "
                        "for it")
    read_slos = [s for doc, name, spec in slos
                 if (s := _slo(doc, name, spec, slis, report, latency_unit)) is not None]
    report.check()
    if not read_slos:
        report.problems.append(nothing(given, "OpenSLO SLO", "give files with kind: SLO "
                                       "documents (apiVersion: openslo/v1)"))
        report.check()
    return _journeys(read_slos, report)


def envelope(doc: Document, report: Report) -> tuple[str, str] | None:
    data = doc.data
    if not isinstance(data, dict):
        report.problem(doc, (), "an OpenSLO document is a mapping with apiVersion, kind, "
                       "metadata and spec", "see the OpenSLO v1 specification")
        return None
    version = text_of(data.get("apiVersion"))
    if version != "openslo/v1":
        report.problem(doc, ("apiVersion",), f"apiVersion {version!r} is not openslo/v1"
                       if version else "apiVersion is missing", "only OpenSLO v1 is read "
                       "(earlier versions differ); write apiVersion: openslo/v1")
        return None
    kind = text_of(data.get("kind"))
    if kind not in KINDS:
        report.problem(doc, ("kind",), f"unknown kind {kind!r}" if kind else "kind is "
                       "missing", suggest(kind or "", KINDS) or "one of " + ", ".join(KINDS))
        return None
    metadata = data.get("metadata")
    name = text_of(metadata.get("name")) if isinstance(metadata, dict) else None
    if not name:
        report.problem(doc, ("metadata", "name"), "metadata.name is missing",
                       "give metadata: {name: ...}")
        return None
    if kind in ("SLO", "SLI") and not isinstance(data.get("spec"), dict):
        report.problem(doc, ("spec",), f"the {kind} has no spec mapping", "give spec: ...")
        return None
    return kind, name


def _slo(doc: Document, name: str, spec: dict[str, Any],
         slis: dict[str, tuple[Document, Any]], report: Report, unit: LatencyUnit
         ) -> SloRead | None:
    metadata = doc.data["metadata"]
    raw = metadata.get("annotations")
    annotations = {str(k): text_of(v) for k, v in raw.items()} if isinstance(raw, dict) else {}
    service = text_of(spec.get("service"))
    entry, rps = annotations.get(ENTRY), annotations.get(RPS)
    try:
        parse_rate(rps)
    except ValueError:
        if rps is not None:
            report.note(doc, ("metadata", "annotations"), f"{RPS} {rps!r} is no rate; "
                        "ignored")
        rps = None
    slo = SloRead(name, doc, annotations.get(JOURNEY) or service or name, service,
                  canvas_name(entry) if entry else None, rps)
    metric = _metric(doc, name, spec, slis, report)
    said = annotations.get(OBJECTIVE)
    if said in ("availability", "latency"):
        metric = "ratio" if said == "availability" else "threshold"
    slo.window = time_window(doc, spec, report)
    method = text_of(spec.get("budgetingMethod"))
    if method is not None and method != "Occurrences":
        report.note(doc, ("spec", "budgetingMethod"), f"slo:{name} budgets by {method}; "
                    "taken as a share of requests (Occurrences)")
    objectives = spec.get("objectives")
    if not isinstance(objectives, list) or not objectives:
        report.problem(doc, ("spec", "objectives"), f"slo:{name} has no objectives",
                       "give objectives: [{target: 0.999}]")
        return None
    if metric is None:
        return None
    targets = [(i, t) for i, o in enumerate(objectives)
               if (t := objective_target(doc, ("spec", "objectives", i), o, report)) is not None]
    if len(targets) != len(objectives):
        return None
    if metric == "ratio":
        slo.availability = max(t for _, t in targets)
        if len(targets) > 1:
            report.note(doc, ("spec", "objectives"), f"slo:{name} has {len(targets)} "
                        f"objectives; the strictest ({slo.availability}) is the journey's")
        return slo
    i, target = targets[0]
    if len(targets) > 1:
        report.note(doc, ("spec", "objectives"), f"slo:{name}: a threshold SLO has one "
                    "objective; the first is read")
    path: Path = ("spec", "objectives", i)
    objective = objectives[i]
    op = text_of(objective.get("op"))
    if op not in ("lte", "lt"):
        report.note(doc, path, f"slo:{name}: op {op!r} bounds no latency from above; "
                    "skipped" if op else f"slo:{name}: a threshold objective without op; "
                    "skipped")
        return slo
    seconds = latency_value(doc, path, objective.get("value"), unit, report)
    if seconds is None:
        return None
    slo.latency = (percentile_of(doc, path, target, annotations.get(PERCENTILE), report),
                   seconds)
    return slo


def _metric(doc: Document, name: str, spec: dict[str, Any],
            slis: dict[str, tuple[Document, Any]], report: Report) -> str | None:
    indicator, where = spec.get("indicator"), doc
    if indicator is None and spec.get("indicatorRef") is not None:
        ref = text_of(spec.get("indicatorRef")) or ""
        if ref not in slis:
            report.problem(doc, ("spec", "indicatorRef"), f"no SLI named {ref!r} in the "
                           "files imported", suggest(ref, list(slis)) or "import the file "
                           "that defines it too, or inline the indicator")
            return None
        where, indicator = slis[ref]
    if not isinstance(indicator, dict):
        report.problem(doc, ("spec",), f"slo:{name} has no indicator",
                       "give spec.indicator (or spec.indicatorRef naming an SLI)")
        return None
    body = indicator.get("spec", indicator)
    if isinstance(body, dict) and "ratioMetric" in body:
        return "ratio"
    if isinstance(body, dict) and "thresholdMetric" in body:
        return "threshold"
    report.problem(where, ("spec", "indicator") if where is doc else ("spec",),
                   "the indicator has neither ratioMetric nor thresholdMetric",
                   "a ratio of good to total requests is an availability, a threshold "
                   "on latency a latency bound")
    return None


def _number(value: object) -> float | None:
    if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
        return float(value)
    return None


def objective_target(doc: Document, path: Path, objective: object, report: Report) -> float | None:
    if not isinstance(objective, dict):
        report.problem(doc, path, "an objective is a mapping", "write {target: 0.999}")
        return None
    if ("target" in objective) == ("targetPercent" in objective):
        report.problem(doc, path, "give target or targetPercent, one of them",
                       "target: 0.999 is targetPercent: 99.9")
        return None
    key = "target" if "target" in objective else "targetPercent"
    value = _number(objective[key])
    scale = 1.0 if key == "target" else 100.0
    if value is None or not 0 < value <= scale:
        report.problem(doc, (*path, key), f"{key} {objective[key]!r} is not a number above "
                       f"0 and at most {scale:g}", "target: 0.999 or targetPercent: 99.9")
        return None
    # in decimal, so that targetPercent 99.9 is exactly target 0.999
    return float(Decimal(repr(value)) / Decimal(int(scale)))


def percentile_of(doc: Document, path: Path, target: float, said: str | None,
                report: Report) -> str:
    if said in PERCENTILES:
        return said
    for key, percent in PERCENTILES.items():  # from p50 up to max
        if target <= percent / 100 + 1e-12:
            if abs(target - percent / 100) > 1e-12:
                report.note(doc, path, f"target {target:g} is no percentile the canvas "
                            f"knows; taken as {key}, the next stricter")
            return key
    return "max"


def latency_value(doc: Document, path: Path, value: object, unit: LatencyUnit, report: Report
             ) -> float | None:
    number = _number(value)
    if number is not None:
        seconds = float(Decimal(repr(number)) / 1000) if unit == "ms" else number
    else:
        try:
            seconds = parse_duration(value)
        except ValueError:
            report.problem(doc, (*path, "value"), f"value {value!r} is not a latency",
                           f"a number of {'milliseconds' if unit == 'ms' else 'seconds'}, "
                           "or a duration such as 300ms")
            return None
    if not 0 < seconds <= MAX_DURATION:
        report.problem(doc, (*path, "value"), f"latency {value!r} must be above zero and "
                       "at most a year", "e.g. value: 300 (milliseconds)")
        return None
    return seconds


def time_window(doc: Document, spec: dict[str, Any], report: Report) -> float | None:
    windows = spec.get("timeWindow")
    if windows is None:
        return None
    first = windows[0] if isinstance(windows, list) and windows else None
    text = text_of(first.get("duration")) if isinstance(first, dict) else None
    match = _WINDOW.fullmatch(text) if text else None
    path: Path = ("spec", "timeWindow", 0, "duration")
    if match is None:
        report.problem(doc, path, f"timeWindow duration {text!r} is not OpenSLO's shorthand"
                       if text else "timeWindow has no duration",
                       "write timeWindow: [{duration: 28d, isRolling: true}]")
        return None
    count, unit = int(match.group(1)), match.group(2)
    seconds = float(count * _UNIT_SECONDS[unit])
    if seconds > MAX_DURATION:
        report.problem(doc, path, f"a window of {text} is longer than the canvas's longest "
                       "(366 days)", "use a window of at most 366d")
        return None
    if unit in "MQY":
        report.note(doc, path, f"window {text} taken as {seconds / 86400:g} days")
    if isinstance(first, dict) and (first.get("isRolling") is False or "calendar" in first):
        report.note(doc, path, f"calendar-aligned window {text} taken as a rolling one")
    return seconds


def _journeys(slos: list[SloRead], report: Report) -> list[JourneySlos]:
    groups: dict[str, list[SloRead]] = {}
    for slo in slos:
        groups.setdefault(slo.group, []).append(slo)
    out: list[JourneySlos] = []
    taken: set[str] = set()
    for group, members in groups.items():
        availabilities = [s for s in members if s.availability is not None]
        latencies = [s for s in members if s.latency is not None]
        windows = {s.window for s in members if s.window is not None}
        if len(availabilities) <= 1 and len(latencies) <= 1 and len(windows) <= 1:
            parts = [(group, members)]
        else:
            report.note(members[0].doc, (), f"the SLOs of '{group}' do not fit one journey "
                        "(one availability, one latency, one window): a journey per SLO")
            parts = [(s.name, [s]) for s in members]
        for name, part in parts:
            journey = canvas_name(name)
            counter = 2
            while journey in taken:
                journey, counter = canvas_name(f"{name}-{counter}"), counter + 1
            taken.add(journey)
            out.append(JourneySlos(
                journey, part, part[0].service, next((s.entry for s in part if s.entry), None),
                next((s.rps for s in part if s.rps), None),
                next((s.availability for s in part if s.availability is not None), None),
                next((s.latency for s in part if s.latency is not None), None),
                next((s.window for s in part if s.window is not None), None)))
    return out
