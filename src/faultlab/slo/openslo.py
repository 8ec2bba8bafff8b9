"""OpenSLO v1 as the SLOs of an experiment, and an experiment's SLOs as OpenSLO.

Reading: an entry of ``slos:`` that names OpenSLO files is replaced, before the experiment
is validated, by the SLOs they state (and, measured in Prometheus, the probes that ask)::

    slos:
      - openslo: slos.yaml            # a file, or a list; relative to the experiment file
        measure: auto                 # auto | prometheus | workload
        prometheus: http://127.0.0.1:9090   # when no DataSource gives the server
        workload: load                # measure: workload: which one (default: the only one)
        window: 5s                    # the experiment's judging window
        every: 1s                     # how often a Prometheus probe asks
        range: 1m                     # the range of a counter's rate (counter: true)

Each objective of each ``kind: SLO`` document is one SLO, named after the document (with
``-2``, ``-3`` ... for its further objectives). How it is measured:

- ``prometheus`` (``auto`` picks it when the indicator's metric source is Prometheus): a
  ``probe`` workload asks the indicator's query every ``every``. A ratio indicator is
  ``((good) or vector(0)) / (total)`` (or bad) held above the target (below 1 - target); a
  counter selector (``counter: true`` and a bare metric) is taken as its
  ``sum(rate(...[range]))``. A threshold indicator's query is held to the objective's
  ``value`` by its ``op``. The SLO then asks every poll to pass (``success_ratio: 100%`` over
  the probe, judged per window), and a Prometheus that cannot answer is a probe error, never
  a breach. The server is the ``DataSource`` the source names (``metricSourceRef``;
  ``connectionDetails.url``), else ``prometheus:``.
- ``workload`` (``auto``'s choice for any other source, such as the examples' ``type:
  Any``): the objective is judged on faultlab's own measured workload, as users see it: a
  ratio indicator is a ``success_ratio`` of the target, a threshold (``op: lt``/``lte``) a
  latency bound at the percentile of the target (0.99: ``p99``).

A ``timeWindow`` becomes the SLO's ``budget.period`` (for the error budget the run
consumes), except for probe SLOs: their polls are not the users' requests. What faultlab
does not judge as OpenSLO says (``budgetingMethod: Timeslices``, alert policies, calendar
windows) is named in the run's warnings' place: the error of a document that cannot be read
names its file, line and column.

Writing (:func:`export_openslo`): every SLO of an experiment as an OpenSLO ``SLO`` with an
inline indicator over the metrics ``faultlab run --metrics`` serves
(``faultlab_workload_requests_total``, ``faultlab_workload_latency_seconds``) and
annotations (``faultlab/workload``, ``faultlab/window``, ...) from which
``measure: workload`` reads the very same SLOs back.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path as FsPath
from typing import Any

from faultlab.canvas.importers.common import Document, ImportFileError, Report, text_of
from faultlab.canvas.importers.openslo import (
    LatencyUnit,
    envelope,
    latency_value,
    objective_target,
    percentile_of,
    time_window,
)
from faultlab.experiment.types import dump_duration
from faultlab.experiment.yamlpos import Path
from faultlab.slo.spec import PERCENTILES

__all__ = ["OPTIONS", "expand_openslo", "export_openslo"]

OPTIONS = ("openslo", "measure", "prometheus", "workload", "window", "every", "range",
           "latency_unit")
WORKLOAD_ANNOTATION, WINDOW_ANNOTATION = "faultlab/workload", "faultlab/window"
SPEND_ANNOTATION, OK_ONLY_ANNOTATION = "faultlab/max-spend", "faultlab/successful-only"
PERCENTILE_ANNOTATION = "faultlab/percentile"
_SELECTOR = re.compile(r"^\s*[A-Za-z_:][A-Za-z0-9_:]*\s*(\{[^{}]*\})?\s*$")
_OPS = {"lt": "below", "lte": "below", "gt": "above", "gte": "above"}

Problem = tuple[Path, str, str, bool]  # path, message, hint, only a warning


@dataclass
class _Made:
    slos: list[dict[str, Any]] = field(default_factory=list)
    workloads: dict[str, dict[str, Any]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


def expand_openslo(data: Any, source: str) -> list[Problem]:
    """Replace the ``openslo:`` entries of ``data['slos']`` (in place) by the SLOs and probe
    workloads they state; the problems, each at its entry."""
    slos = data.get("slos") if isinstance(data, dict) else None
    if not isinstance(slos, list) or not any(isinstance(s, dict) and "openslo" in s
                                             for s in slos):
        return []
    base = FsPath(source).parent if source and not source.startswith("<") else FsPath(".")
    problems: list[Problem] = []
    out: list[Any] = []
    workloads = data.get("workloads")
    for i, entry in enumerate(slos):
        if not (isinstance(entry, dict) and "openslo" in entry):
            out.append(entry)
            continue
        where: Path = ("slos", i)
        unknown = [k for k in entry if k not in OPTIONS]
        if unknown:
            problems.append(((*where, str(unknown[0])), f"unknown key {unknown[0]!r} of an "
                             "openslo entry", "keys: " + ", ".join(OPTIONS), False))
            continue
        try:
            made = _read(entry, base)
        except _Refused as e:
            problems.append(((*where, *e.path), e.message, e.hint, False))
            continue
        except ImportFileError as e:
            problems += [((*where, "openslo"), line.strip(), "fix the OpenSLO file", False)
                         for line in str(e).splitlines() if line.strip()][:20]
            continue
        problems += [((*where, "openslo"), note, "OpenSLO says more than a run judges",
                      True) for note in made.notes]
        out += made.slos
        if made.workloads:
            if workloads is None:
                workloads = data["workloads"] = {}
            if not isinstance(workloads, dict):
                problems.append((("workloads",), "workloads: must be a mapping for the "
                                 "OpenSLO probes to join it", "write workloads: {name: ...}",
                                 False))
                continue
            for name, spec in made.workloads.items():
                if name in workloads:
                    problems.append(((*where, "openslo"), f"the probe of OpenSLO SLO "
                                     f"'{name.removeprefix('openslo-')}' would be workload "
                                     f"'{name}', which exists", "rename that workload",
                                     False))
                workloads[name] = spec
    data["slos"] = out
    return problems


class _Refused(Exception):
    def __init__(self, path: Path, message: str, hint: str) -> None:
        super().__init__(message)
        self.path, self.message, self.hint = path, message, hint


def _read(entry: Mapping[str, Any], base: FsPath) -> _Made:
    from faultlab.canvas.importers.common import read_documents, sources_of

    files = entry["openslo"]
    names = [files] if isinstance(files, str) else files
    if not isinstance(names, list) or not names or not all(isinstance(n, str) for n in names):
        raise _Refused(("openslo",), "openslo: names a file or a list of files",
                       "write openslo: slos.yaml")
    measure = entry.get("measure", "auto")
    if measure not in ("auto", "prometheus", "workload"):
        raise _Refused(("measure",), f"measure {measure!r} is not auto, prometheus or "
                       "workload", "auto measures Prometheus sources in Prometheus, the "
                       "others on faultlab's own load")
    span = entry.get("range", "1m")
    if not (isinstance(span, str) and re.fullmatch(r"[1-9][0-9]*(ms|s|m|h|d|w)", span)):
        raise _Refused(("range",), f"range {span!r} is not a PromQL duration",
                       "write e.g. range: 1m (at least four scrape intervals)")
    unit = entry.get("latency_unit", "ms")
    if unit not in ("ms", "s"):
        raise _Refused(("latency_unit",), f"latency_unit {unit!r} is not ms or s",
                       "OpenSLO threshold values are milliseconds unless it says s")
    paths = [FsPath(n) if FsPath(n).is_absolute() else base / n for n in names]
    missing = [p for p in paths if not p.is_file()]
    if missing:
        raise _Refused(("openslo",), f"OpenSLO file {str(missing[0])!r} not found",
                       "give a path relative to the experiment file")
    report = Report()
    docs = read_documents(sources_of([str(p) for p in paths]), report)
    report.check()
    reader = _Reader(entry, measure, "s" if unit == "s" else "ms", report)
    for doc in docs:
        read = envelope(doc, report)
        if read is not None:
            reader.add(doc, *read)
    report.check()
    made = reader.finish()
    report.check()
    made.notes += [str(n) for n in report.notes]
    return made


class _Reader:
    def __init__(self, entry: Mapping[str, Any], measure: str, unit: LatencyUnit,
                 report: Report) -> None:
        self.entry, self.measure, self.unit, self.report = entry, measure, unit, report
        self.sources: dict[str, Document] = {}
        self.slis: dict[str, Document] = {}
        self.slos: list[Document] = []

    def add(self, doc: Document, kind: str, name: str) -> None:
        if kind == "DataSource":
            self.sources[name] = doc
        elif kind == "SLI":
            self.slis[name] = doc
        elif kind == "SLO":
            self.slos.append(doc)
        else:
            self.report.note(doc, ("kind",), f"{kind} '{name}' is not an SLO of a run; "
                             "skipped")

    def finish(self) -> _Made:
        made = _Made()
        if not self.slos:
            raise _Refused(("openslo",), "the OpenSLO files hold no kind: SLO document",
                           "an OpenSLO file for a run holds SLOs (with their SLIs and "
                           "DataSources)")
        for doc in self.slos:
            self._slo(doc, made)
        return made

    def _indicator(self, doc: Document) -> tuple[Document, dict[str, Any]] | None:
        spec = doc.data["spec"]
        indicator: Any = spec.get("indicator")
        where = doc
        if indicator is None and spec.get("indicatorRef") is not None:
            ref = text_of(spec.get("indicatorRef")) or ""
            if ref not in self.slis:
                self.report.problem(doc, ("spec", "indicatorRef"), f"no SLI named {ref!r}",
                                    "give the file that defines it too, or inline it")
                return None
            where = self.slis[ref]
            indicator = where.data
        body = indicator.get("spec") if isinstance(indicator, dict) else None
        if not isinstance(body, dict) or not ({"ratioMetric", "thresholdMetric"} & set(body)):
            self.report.problem(doc, ("spec", "indicator"), "the indicator has neither "
                                "ratioMetric nor thresholdMetric", "see OpenSLO v1's SLI")
            return None
        return where, body

    def _slo(self, doc: Document, made: _Made) -> None:
        name = doc.data["metadata"]["name"]
        spec = doc.data["spec"]
        raw = doc.data["metadata"].get("annotations")
        notes = {str(k): text_of(v) for k, v in raw.items()} if isinstance(raw, dict) else {}
        found = self._indicator(doc)
        objectives = spec.get("objectives")
        if found is None:
            return
        if not isinstance(objectives, list) or not objectives:
            self.report.problem(doc, ("spec", "objectives"), f"slo:{name} has no objectives",
                                "give objectives: [{target: 0.999}]")
            return
        where, body = found
        period = time_window(doc, spec, self.report)
        method = text_of(spec.get("budgetingMethod"))
        if method not in (None, "Occurrences"):
            self.report.note(doc, ("spec", "budgetingMethod"), f"slo:{name} budgets by "
                             f"{method}; faultlab judges occurrences (requests, or polls)")
        source = self._source(where, body)
        prometheus = (self.measure == "prometheus" or (
            self.measure == "auto" and source is not None and source[0] == "prometheus"))
        window = self.entry.get("window", notes.get(WINDOW_ANNOTATION) or "5s")
        for k, objective in enumerate(objectives):
            path: Path = ("spec", "objectives", k)
            target = objective_target(doc, path, objective, self.report)
            if target is None:
                continue
            slo_name = name if k == 0 else f"{name}-{k + 1}"
            if prometheus:
                self._probe(doc, path, slo_name, body, objective, target, source, window, made)
            else:
                self._own(doc, path, slo_name, body, objective, target, period, window, notes,
                          made)

    def _source(self, doc: Document, body: dict[str, Any]) -> tuple[str, str | None] | None:
        """The indicator's metric source: (type lower-case, the server's URL if known)."""
        metric = body.get("ratioMetric") or body.get("thresholdMetric")
        if isinstance(metric, dict) and "metricSource" not in metric:
            metric = next((metric[k] for k in ("good", "bad", "total")
                           if isinstance(metric.get(k), dict)), {})
        source = metric.get("metricSource") if isinstance(metric, dict) else None
        if not isinstance(source, dict):
            return None
        kind = (text_of(source.get("type")) or "").lower()
        url = None
        ref = text_of(source.get("metricSourceRef"))
        if ref is not None and ref in self.sources:
            ds = self.sources[ref].data.get("spec")
            if isinstance(ds, dict):
                kind = (text_of(ds.get("type")) or kind).lower()
                details = ds.get("connectionDetails")
                if isinstance(details, dict):
                    url = text_of(details.get("url") or details.get("address"))
        elif ref is not None:
            self.report.note(doc, ("spec",), f"DataSource {ref!r} not among the files")
        return kind, url

    def _probe(self, doc: Document, path: Path, name: str, body: dict[str, Any],
               objective: dict[str, Any], target: float,
               source: tuple[str, str | None] | None, window: object, made: _Made) -> None:
        url = (source[1] if source is not None else None) or self.entry.get("prometheus")
        if not isinstance(url, str):
            self.report.problem(doc, path, f"slo:{name} is measured in Prometheus, and no "
                                "server is known", "give prometheus: URL in the openslo "
                                "entry, or a DataSource with connectionDetails.url")
            return
        bound: dict[str, Any]
        if "ratioMetric" in body:
            ratio = body["ratioMetric"]
            counter = isinstance(ratio, dict) and ratio.get("counter") is True
            queries = {k: self._query(doc, name, ratio.get(k), counter)
                       for k in ("good", "bad", "total") if isinstance(ratio, dict)
                       and k in ratio}
            if "total" not in queries or ("good" in queries) == ("bad" in queries):
                self.report.problem(doc, ("spec",), f"slo:{name}: a ratio is good/total or "
                                    "bad/total, with queries", "give good (or bad) and total")
                return
            if any(q is None for q in queries.values()):
                return
            # no series of good (or bad) requests yet is none of them, not no data
            if "good" in queries:
                query = f"(({queries['good']}) or vector(0)) / ({queries['total']})"
                bound = {"above": target} if target < 1 else {"above": 1 - 1e-9}
            else:
                query = f"(({queries['bad']}) or vector(0)) / ({queries['total']})"
                bound = {"below": max(1 - target, 1e-9)}
        else:
            op = text_of(objective.get("op"))
            number = objective.get("value")
            if op not in _OPS or isinstance(number, bool) or not isinstance(number,
                                                                            int | float):
                self.report.problem(doc, path, f"slo:{name}: a threshold objective needs op "
                                    "(lt, lte, gt, gte) and a number value",
                                    "e.g. op: lte, value: 300")
                return
            q = self._query(doc, name, body["thresholdMetric"], False)
            if q is None:
                return
            query, bound = q, {_OPS[op]: float(number)}
            if target < 1:
                self.report.note(doc, path, f"slo:{name}: the query's value is held to "
                                 f"{op} {number} at every poll; target {target:g} is the "
                                 "share of polls left to the window's success ratio")
        probe = f"openslo-{name}"
        made.workloads[probe] = {"kind": "probe", "every": self.entry.get("every", "1s"),
                                 "prometheus": {"url": url, "query": query, **bound}}
        made.slos.append({"name": name, "workload": probe, "window": window,
                          "success_ratio": 1.0 if "ratioMetric" in body else target})

    def _query(self, doc: Document, name: str, part: Any, counter: bool) -> str | None:
        source = part.get("metricSource") if isinstance(part, dict) else None
        spec = source.get("spec") if isinstance(source, dict) else None
        query = text_of(spec.get("query")) if isinstance(spec, dict) else None
        if not query:
            self.report.problem(doc, ("spec",), f"slo:{name}: a metric source without a "
                                "query", "give metricSource.spec.query (PromQL)")
            return None
        span = self.entry.get("range", "1m")
        if counter and _SELECTOR.match(query):
            return f"sum(rate({query.strip()}[{span}]))"
        return query

    def _own(self, doc: Document, path: Path, name: str, body: dict[str, Any],
             objective: dict[str, Any], target: float, period: float | None, window: object,
             notes: dict[str, str | None], made: _Made) -> None:
        slo: dict[str, Any] = {"name": name, "window": window}
        workload = self.entry.get("workload", notes.get(WORKLOAD_ANNOTATION))
        if workload is not None:
            slo["workload"] = workload
        if "ratioMetric" in body:
            slo["success_ratio"] = target
        else:
            op = text_of(objective.get("op"))
            if op not in ("lt", "lte"):
                self.report.problem(doc, path, f"slo:{name}: op {op!r} bounds no latency "
                                    "from above", "faultlab's load judges a latency bound: "
                                    "op: lte")
                return
            seconds = latency_value(doc, path, objective.get("value"), self.unit,
                                    self.report)
            if seconds is None:
                return
            key = percentile_of(doc, path, target, notes.get(PERCENTILE_ANNOTATION),
                                self.report)
            slo["latency"] = {key: dump_duration(seconds)}
            if notes.get(OK_ONLY_ANNOTATION) == "true":
                slo["latency"]["successful_only"] = True
        if period is not None and target < 1 and (
                "ratioMetric" in body or PERCENTILES.get(next(iter(slo["latency"]))) != 100.0):
            slo["budget"] = {"period": dump_duration(period)}
            spend = notes.get(SPEND_ANNOTATION)
            if spend is not None:
                slo["budget"]["max_spend"] = spend
        made.slos.append(slo)


def export_openslo(experiment: Any) -> str:
    """Every SLO of ``experiment`` as OpenSLO v1 SLO documents (YAML, one stream)."""
    import yaml

    docs = []
    for slo in experiment.slos:
        workload = experiment.slo_workload(slo)
        selector = f'workload="{workload}"'
        annotations = {WORKLOAD_ANNOTATION: workload, WINDOW_ANNOTATION:
                       dump_duration(slo.window)}
        if slo.success_ratio is not None:
            indicator = {"ratioMetric": {"counter": True, "good": _prom(
                f'faultlab_workload_requests_total{{{selector},outcome="ok"}}'),
                "total": _prom(f"faultlab_workload_requests_total{{{selector}}}")}}
            objective: dict[str, Any] = {"displayName": slo.name,
                                         "target": float(slo.success_ratio)}
        else:
            key, bound = slo.latency.bounds()[0]
            indicator = {"thresholdMetric": _prom(
                f'faultlab_workload_latency_seconds{{{selector},'
                f'quantile="{PERCENTILES[key] / 100:g}"}}')}
            objective = {"displayName": slo.name, "op": "lte", "value": round(bound * 1000, 6),
                         "target": PERCENTILES[key] / 100}
            annotations[PERCENTILE_ANNOTATION] = key
            if slo.latency.successful_only:
                annotations[OK_ONLY_ANNOTATION] = "true"
        spec: dict[str, Any] = {"description": f"faultlab SLO {slo.name} of experiment "
                                f"{experiment.name}", "service": experiment.name,
                                "indicator": {"metadata": {"name": f"{slo.name}-sli"},
                                              "spec": indicator},
                                "budgetingMethod": "Occurrences", "objectives": [objective]}
        if slo.budget is not None:
            spec["timeWindow"] = [{"duration": _shorthand(slo.budget.period),
                                   "isRolling": True}]
            if slo.budget.max_spend is not None:
                annotations[SPEND_ANNOTATION] = f"{float(slo.budget.max_spend) * 100:g}%"
        docs.append({"apiVersion": "openslo/v1", "kind": "SLO",
                     "metadata": {"name": slo.name, "annotations": annotations},
                     "spec": spec})
    return yaml.safe_dump_all(docs, sort_keys=False, allow_unicode=True)


def _prom(query: str) -> dict[str, Any]:
    return {"metricSource": {"type": "Prometheus", "spec": {"query": query}}}


def _shorthand(seconds: float) -> str:
    for unit, size in (("w", 604800), ("d", 86400), ("h", 3600), ("m", 60)):
        if seconds % size == 0:
            return f"{round(seconds / size)}{unit}"
    return f"{max(1, round(seconds / 60))}m"
