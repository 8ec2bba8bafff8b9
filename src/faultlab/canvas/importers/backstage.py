"""Backstage catalog files (``catalog-info.yaml``) as a canvas.

Backstage's catalog says what exists and what depends on what: Components (``spec.type``
service, website, library), Resources (databases, queues, buckets, clusters), APIs that
components provide and consume, Systems that group them. It says nothing of instances,
zones, availability, or of a dependency's kind (hard or soft), timeout and retries. So:

- a Component of type service or website is a service; a library is skipped (it is linked
  into its users, not called); any other type is a service, with a note;
- a Resource whose type reads as a store (database, cache, queue, topic, bucket, ...) is a
  datastore, any other (a cluster, a CDN) a service, with a note;
- ``dependsOn`` (and the reverse ``dependencyOf``) is a hard dependency, and so is
  ``consumesApis`` of an API that a known component lists in ``providesApis``;
- a System is kept as words in descriptions (the canvas has no groups).

What Backstage does not say is written as ``# TODO`` comments above each part and as notes,
and defaulted to what the canvas assumes when nothing is said (one instance, hard, no
timeout). Entity references follow Backstage: ``[kind:][namespace/]name``, the namespace
defaulting to the referring entity's, the kind to the field's (API for ``*Apis``; none for
``dependsOn``, where a name alone is looked up among components and resources, with a note).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, NamedTuple

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
from faultlab.experiment.yamlpos import Path, suggest

__all__ = ["import_backstage"]

KINDS = ("Component", "Resource", "System", "API", "Domain", "Group", "User", "Template",
         "Location")
_USED = ("component", "resource", "system", "api")
#: words in a Resource's spec.type that make it a datastore
_STORE_WORDS = frozenset((
    "database", "db", "cache", "queue", "topic", "stream", "bucket", "storage", "store",
    "blob", "kv", "redis", "postgres", "postgresql", "mysql", "mariadb", "mongo",
    "mongodb", "kafka", "rabbitmq", "sqs", "sns", "pubsub", "elasticsearch", "opensearch",
    "etcd", "cassandra", "dynamodb", "memcached", "s3", "gcs", "bigtable", "spanner"))
_SERVICE_TYPES = ("service", "website")
# Backstage's default rules for names and namespaces
_NAME = re.compile(r"[a-zA-Z0-9]+(?:[-_.][a-zA-Z0-9]+)*")
_NAMESPACE = re.compile(r"[a-zA-Z0-9]+(?:-[a-zA-Z0-9]+)*")
_REF = re.compile(r"(?:([^:/]+):)?(?:([^:/]+)/)?([^:/]+)")
_NOT_SAID = "Backstage does not say"


class Ref(NamedTuple):
    kind: str  # lower case, as Backstage compares them
    namespace: str
    name: str

    @property
    def key(self) -> tuple[str, str, str]:
        return self.kind, self.namespace.lower(), self.name.lower()

    def __str__(self) -> str:
        return f"{self.kind}:{self.namespace}/{self.name}"


@dataclass
class Entity:
    ref: Ref
    doc: Document
    spec: dict[str, Any]
    description: str
    role: str = ""  # "service", "datastore" or "skipped", once classified
    canvas: str = ""  # its name in the canvas


def import_backstage(sources: Source | Iterable[Source], *, name: str | None = None
                     ) -> Imported:
    """The canvas that the Backstage entities in ``sources`` (files or :class:`Text`, each
    one or more YAML documents) describe, as commented YAML text, with the notes of the
    import. ``name``: the canvas's name (default: the one System's, else ``catalog``).

    Raises :class:`ImportFileError` with every problem (bad YAML, an entity that is not one,
    an unknown kind, a reference to an entity none of the files holds), each located."""
    report = Report()
    given = sources_of(sources)
    docs = read_documents(given, report)
    report.check()
    entities = _entities(docs, report)
    nodes = [e for e in entities.values() if e.ref.kind in ("component", "resource")]
    if not nodes and not report.problems:
        report.problems.append(nothing(given, "Backstage Component or Resource", "give "
                                       "catalog-info.yaml files with kind: Component "
                                       "(apiVersion: backstage.io/v1alpha1)"))
    for entity in nodes:
        _classify(entity, report)
    _name_nodes([e for e in nodes if e.role in ("service", "datastore")], report)
    edges = _edges(entities, nodes, report)
    report.check()
    systems = [e for e in entities.values() if e.ref.kind == "system"]
    canvas = canvas_name(name) if name else (canvas_name(systems[0].ref.name) if len(systems) == 1
                                             else "catalog")
    text = _emit(canvas, docs, systems, nodes, edges)
    report.note(None, (), "Backstage has no hard or soft dependencies, timeouts, retries, "
                "instances, zones or journeys: every dependency is imported as hard with no "
                "timeout and every node with one instance (see the TODO comments)")
    return finish(text, report)


def _entities(docs: list[Document], report: Report) -> dict[tuple[str, str, str], Entity]:
    out: dict[tuple[str, str, str], Entity] = {}
    for doc in docs:
        data = doc.data
        if not isinstance(data, dict):
            report.problem(doc, (), "a catalog entity is a mapping with apiVersion, kind, "
                           "metadata and spec", "see catalog-info.yaml in Backstage's docs")
            continue
        api_version = text_of(data.get("apiVersion"))
        if api_version is None or not api_version.startswith("backstage.io/"):
            report.problem(doc, ("apiVersion",), "not a Backstage entity: apiVersion is "
                           f"{api_version or 'missing'}", "Backstage entities have "
                           "apiVersion: backstage.io/v1alpha1")
            continue
        kind = _kind(doc, data, report)
        metadata = data.get("metadata")
        if kind is None:
            continue
        if not isinstance(metadata, dict):
            report.problem(doc, ("metadata",), "metadata is missing or not a mapping",
                           "give metadata: {name: ...}")
            continue
        ref = _own_ref(doc, kind, metadata, report)
        if ref is None:
            continue
        if ref.kind not in _USED:
            report.note(doc, (), f"{ref} skipped: a canvas has no place for {kind} entities")
            continue
        spec = data.get("spec", {})
        if not isinstance(spec, dict):
            report.problem(doc, ("spec",), "spec is not a mapping", "give spec: {type: ...}")
            continue
        if ref.key in out:
            report.problem(doc, ("metadata", "name"), f"{ref} is defined twice (first at "
                           f"{out[ref.key].doc.where()})", "keep one of them")
            continue
        description = text_of(metadata.get("description")) or text_of(
            metadata.get("title")) or ""
        out[ref.key] = Entity(ref, doc, spec, description)
    return out


def _kind(doc: Document, data: dict[str, Any], report: Report) -> str | None:
    kind = text_of(data.get("kind"))
    known = {k.lower(): k for k in KINDS}
    if kind is not None and kind.lower() in known:
        return known[kind.lower()]
    report.problem(doc, ("kind",), f"unknown kind {kind!r}" if kind else "kind is missing",
                   suggest(kind or "", KINDS) or "one of " + ", ".join(KINDS))
    return None


def _own_ref(doc: Document, kind: str, metadata: dict[str, Any], report: Report
             ) -> Ref | None:
    name = text_of(metadata.get("name"))
    namespace = text_of(metadata.get("namespace", "default"))
    if name is None or not (len(name) <= 63 and _NAME.fullmatch(name)):
        report.problem(doc, ("metadata", "name"), f"metadata.name {name!r} is not a "
                       "Backstage name" if name else "metadata.name is missing",
                       "letters and digits, separated by - _ or ., at most 63")
        return None
    if namespace is None or not (len(namespace) <= 63 and _NAMESPACE.fullmatch(namespace)):
        report.problem(doc, ("metadata", "namespace"), f"metadata.namespace {namespace!r} "
                       "is not a Backstage namespace", "letters and digits separated by -")
        return None
    return Ref(kind.lower(), namespace.lower(), name)


def _store_like(kind: str) -> bool:
    return bool(_STORE_WORDS.intersection(re.split(r"[-_./\s]+", kind.lower())))


def _classify(entity: Entity, report: Report) -> None:
    doc, kind = entity.doc, text_of(entity.spec.get("type"))
    if kind is None:
        report.problem(doc, ("spec", "type") if "spec" in doc.data else (),
                       f"{entity.ref} has no spec.type", "Backstage requires it: e.g. "
                       "service, website or library (a Resource: database, queue, ...)")
        entity.role = "skipped"
        return
    if entity.ref.kind == "component":
        if kind.lower() == "library":
            entity.role = "skipped"
            report.note(doc, ("spec", "type"), f"{entity.ref} skipped: a library is linked "
                        "into its users, not called")
            return
        entity.role = "service"
        if kind.lower() not in _SERVICE_TYPES:
            report.note(doc, ("spec", "type"), f"{entity.ref} of type {kind!r} taken as a "
                        "service")
        return
    entity.role = "datastore" if _store_like(kind) else "service"
    if entity.role == "service":
        report.note(doc, ("spec", "type"), f"{entity.ref} of type {kind!r} is no store that "
                    "faultlab knows: taken as a service")


def _name_nodes(nodes: list[Entity], report: Report) -> None:
    """Canvas names: the entity's name, qualified where two entities share it (Backstage
    names are unique per kind and namespace; canvas names across the whole canvas)."""
    groups: dict[str, list[Entity]] = {}
    for entity in nodes:
        groups.setdefault(entity.ref.name.lower(), []).append(entity)
    taken: set[str] = set()
    for entity in nodes:
        ref, group = entity.ref, groups[entity.ref.name.lower()]
        if len(group) == 1:
            wanted = ref.name
        elif len({e.ref.namespace for e in group}) == len(group):
            wanted = f"{ref.namespace}.{ref.name}"
        elif len({e.ref.kind for e in group}) == len(group):
            wanted = f"{ref.name}-{ref.kind}"
        else:
            wanted = f"{ref.namespace}.{ref.name}-{ref.kind}"
        base = name = canvas_name(wanted)
        counter = 2
        while name.lower() in taken:
            name, counter = canvas_name(f"{base}-{counter}"), counter + 1
        taken.add(name.lower())
        entity.canvas = name
        if name != ref.name:
            report.note(entity.doc, ("metadata", "name"), f"{ref} is '{name}' in the canvas")


class Edge(NamedTuple):
    caller: Entity
    callee: Entity
    via: str  # what in the catalog says so
    doc: Document
    path: Path


def _edges(entities: dict[tuple[str, str, str], Entity], nodes: list[Entity],
           report: Report) -> list[Edge]:
    providers: dict[tuple[str, str, str], list[Entity]] = {}
    for entity in nodes:
        for _path, ref in _refs(entity, "providesApis", "api", report):
            if ref.kind == "api":
                providers.setdefault(ref.key, []).append(entity)
    found: list[Edge] = []
    for entity in nodes:
        for path, ref in _refs(entity, "dependsOn", None, report):
            target = _resolve(entity, path, ref, entities, report)
            if target is not None:
                found.append(Edge(entity, target, f"{entity.ref} dependsOn {target.ref}",
                                  entity.doc, path))
        for path, ref in _refs(entity, "dependencyOf", None, report):
            source = _resolve(entity, path, ref, entities, report)
            if source is not None:
                found.append(Edge(source, entity, f"{entity.ref} dependencyOf {source.ref}",
                                  entity.doc, path))
        for path, ref in _refs(entity, "consumesApis", "api", report):
            if ref.kind != "api":
                report.problem(entity.doc, path, f"consumesApis names {ref}, not an API",
                               "list APIs here (api:NAME), components under dependsOn")
                continue
            for provider in providers.get(ref.key, []):
                found.append(Edge(entity, provider, f"{entity.ref} consumesApis {ref}, "
                                  f"provided by {provider.ref}", entity.doc, path))
            if not providers.get(ref.key):
                report.note(entity.doc, path, f"no component of these files provides {ref}: "
                            "no dependency made for it")
    return _kept(found, report)


def _kept(edges: list[Edge], report: Report) -> list[Edge]:
    out: list[Edge] = []
    seen: set[tuple[str, str]] = set()
    for edge in edges:
        caller, callee = edge.caller, edge.callee
        if "skipped" in (caller.role, callee.role):
            report.note(edge.doc, edge.path, f"{edge.via}: left out, a skipped entity")
        elif caller is callee:
            report.note(edge.doc, edge.path, f"{edge.via}: left out, it names itself")
        elif caller.role == "datastore":
            report.note(edge.doc, edge.path, f"{edge.via}: left out, a datastore makes no "
                        "calls in a canvas")
        elif (caller.canvas, callee.canvas) not in seen:
            seen.add((caller.canvas, callee.canvas))
            out.append(edge)
    return out


def _refs(entity: Entity, key: str, default_kind: str | None, report: Report
          ) -> list[tuple[Path, Ref]]:
    """The references in ``spec.<key>``: (path, ref) with Backstage's defaults; a ref
    without a kind where the field has none gets kind ``?``."""
    values = entity.spec.get(key, [])
    if values is None:
        return []
    if not isinstance(values, list):
        report.problem(entity.doc, ("spec", key), f"spec.{key} is not a list",
                       f"write {key}: [kind:name, ...]")
        return []
    out: list[tuple[Path, Ref]] = []
    for i, value in enumerate(values):
        path: Path = ("spec", key, i)
        text = text_of(value)
        match = _REF.fullmatch(text.strip()) if text is not None else None
        if match is None:
            report.problem(entity.doc, path, f"{value!r} is not an entity reference",
                           "write [kind:][namespace/]name, e.g. resource:default/orders-db")
            continue
        kind, namespace, name = match.groups()
        out.append((path, Ref((kind or default_kind or "?").lower(),
                              (namespace or entity.ref.namespace).lower(), name)))
    return out


def _resolve(entity: Entity, path: Path, ref: Ref,
             entities: dict[tuple[str, str, str], Entity], report: Report) -> Entity | None:
    if ref.kind == "?":  # Backstage wants a kind here; find the one entity so named
        matches = [entities[k] for kind in ("component", "resource")
                   if (k := Ref(kind, ref.namespace, ref.name).key) in entities]
        if len(matches) == 1:
            report.note(entity.doc, path, f"'{ref.name}' read as {matches[0].ref} (Backstage "
                        "wants the kind here)")
            return matches[0]
        report.problem(entity.doc, path, f"'{ref.name}' has no kind, and " + (
            "both a component and a resource have that name" if matches else
            "no component or resource of these files has that name"),
            f"write component:{ref.name} or resource:{ref.name}" + (
                "" if matches else ", and import the file that defines it"))
        return None
    if ref.kind not in ("component", "resource"):
        report.problem(entity.doc, path, f"{ref} is not a component or resource",
                       "dependsOn and dependencyOf name components and resources")
        return None
    target = entities.get(ref.key)
    if target is None:
        names = [str(e.ref) for e in entities.values() if e.ref.kind == ref.kind]
        report.problem(entity.doc, path, f"{ref} is in none of the files imported",
                       suggest(str(ref), names) or "import the catalog-info.yaml that "
                       "defines it too, or remove the reference")
        return None
    return target


# --- the canvas text --------------------------------------------------------------------

def _where(doc: Document, path: Path = ()) -> str:
    return f"{doc.source}:{doc.at(path)[0]}"


def _details(entity: Entity) -> str:
    spec = entity.spec
    said = [f"{k} {v}" for k in ("type", "owner", "lifecycle", "system")
            if (v := text_of(spec.get(k))) is not None]
    return f"{entity.ref}" + (f" ({', '.join(said)})" if said else "")


def _described(description: str, **fields: object) -> dict[str, object]:
    return {"description": description, **fields} if description else fields


def _emit(canvas: str, docs: list[Document], systems: list[Entity], nodes: list[Entity],
          edges: list[Edge]) -> str:
    files = sorted({d.source for d in docs})
    header = [f"Canvas imported by faultlab from Backstage catalog files: {', '.join(files)}",
              "Backstage says what exists and what depends on what; it does not say how many",
              "instances run, in which zones, how available they are, or whether a dependency",
              "is hard or soft, with what timeout and retries. Until you say otherwise below,",
              "each node has one instance and each dependency is hard with no timeout (each",
              "TODO marks one). Journeys (what users do, their traffic and SLOs) are not in",
              "Backstage: add them under journeys:.", ""]
    description = "; ".join(f"{s.ref.name}: {s.description}" if s.description
                            else s.ref.name for s in systems)
    top = {"version": 1, "name": canvas,
           "description": f"Backstage systems: {description}" if systems
           else "Imported from a Backstage catalog"}
    services, datastores = [], []
    for entity in nodes:
        if entity.role not in ("service", "datastore"):
            continue
        description = entity.description
        system = text_of(entity.spec.get("system"))
        if system:
            description += f" (system {system})" if description else f"Part of system {system}"
        if entity.role == "service":
            services.append(Part(entity.canvas, _described(description, instances=1),
                                 [f"from {_where(entity.doc)}: {_details(entity)}",
                                  f"TODO: instances, zones, availability — {_NOT_SAID}"]))
        else:
            datastores.append(Part(entity.canvas, _described(description, replicas=1),
                                   [f"from {_where(entity.doc)}: {_details(entity)}",
                                    "TODO: replicas, quorum, zones, availability — "
                                    f"{_NOT_SAID}"]))
    dependencies = [Part("", {"from": e.caller.canvas, "to": e.callee.canvas, "kind": "hard"},
                         [f"from {_where(e.doc, e.path)}: {e.via}",
                          f"TODO: hard or soft, timeout, attempts, pool — {_NOT_SAID}"])
                    for e in edges]
    return canvas_yaml(header, top, {"services": services, "datastores": datastores,
                                     "dependencies": dependencies})
