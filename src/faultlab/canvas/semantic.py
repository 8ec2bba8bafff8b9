"""Checks across the parts of a canvas: references, duplicates, cycles, journeys' steps.

Each finding is ``(path, message, hint, points-at-key)`` with the path as written in the file
(a dependency's ends are ``from``/``to``); the loader turns paths into positions. Checks run
only on a canvas that passed model validation, and each is linear (or n log n) in its size.
"""

from __future__ import annotations

from collections.abc import Iterator

from faultlab.canvas.model import Canvas, Dependency, edge_id, parse_step
from faultlab.experiment.yamlpos import Path, suggest

Finding = tuple[Path, str, str, bool]

__all__ = ["check", "subject_path"]


def check(canvas: Canvas) -> list[Finding]:
    out: list[Finding] = []
    out += _names(canvas)
    out += _zones(canvas)
    out += _targets(canvas)
    dependencies = _dependencies(canvas)
    out += dependencies
    if not dependencies:  # cycles and journeys are only meaningful over valid dependencies
        out += _hard_cycles(canvas)
        out += _journeys(canvas)
    return out


def subject_path(canvas: Canvas, subject: str) -> Path:
    """Where a finding's subject (journey, node, zone, edge id ``a->b``) is in the file."""
    for section in ("journeys", "services", "datastores", "zones"):
        if subject in getattr(canvas, section):
            return (section, subject)
    for i, d in enumerate(canvas.dependencies):
        if d.id == subject:
            return ("dependencies", i)
    return ()


def _listing(names: list[str], most: int = 10) -> str:
    shown = ", ".join(names[:most])
    return shown + (f", ... ({len(names) - most} more)" if len(names) > most else "")


def _unknown(name: str, choices: list[str], what: str, section: str) -> str:
    return suggest(name, choices) or (f"{what}: {_listing(choices)}" if choices
                                      else f"declare it under {section}:")


def _names(canvas: Canvas) -> list[Finding]:
    return [(("datastores", name), f"'{name}' is both a service and a datastore",
             "give each node its own name", True)
            for name in canvas.datastores if name in canvas.services]


def _zones(canvas: Canvas) -> list[Finding]:
    out: list[Finding] = []
    zones = list(canvas.zones)
    for section in ("services", "datastores"):
        for name, node in getattr(canvas, section).items():
            seen: set[str] = set()
            for i, zone in enumerate(node.zones):
                where: Path = (section, name, "zones", i)
                if zone not in canvas.zones:
                    out.append((where, f"unknown zone '{zone}'",
                                _unknown(zone, zones, "zones", "zones"), False))
                elif zone in seen:
                    out.append((where, f"zone '{zone}' is listed twice",
                                "list each zone once; instances go round robin over them",
                                False))
                seen.add(zone)
    return out


def _targets(canvas: Canvas) -> list[Finding]:
    """A process target by ``service:`` names a service of ``system:`` (as in experiments)."""
    out: list[Finding] = []
    started = list(canvas.system.services) if canvas.system is not None else []
    places: list[tuple[Path, object]] = [
        *(((section, name, "target"), node.target)
          for section in ("services", "datastores")
          for name, node in getattr(canvas, section).items()),
        *((("dependencies", i, "target"), d.target) for i, d in enumerate(canvas.dependencies)),
    ]
    for where, target in places:
        process = getattr(target, "process", None)
        service = getattr(process, "service", None)
        if service is not None and service not in started:
            hint = suggest(service, started) or (f"system.services: {_listing(started)}"
                                                 if started else
                                                 "declare it under system.services")
            out.append(((*where, "process", "service"),
                        f"unknown service '{service}' (not under system.services)", hint,
                        False))
    return out


def _dependencies(canvas: Canvas) -> list[Finding]:
    out: list[Finding] = []
    nodes = list(canvas.nodes())
    seen: dict[tuple[str, str], int] = {}
    for i, d in enumerate(canvas.dependencies):
        for key, name in (("from", d.caller), ("to", d.callee)):
            if canvas.node(name) is None:
                out.append((("dependencies", i, key), f"unknown service or datastore "
                            f"'{name}'", _unknown(name, nodes, "nodes", "services"), False))
        ends = (d.caller, d.callee)
        if ends in seen:
            out.append((("dependencies", i), f"{d.caller} -> {d.callee} is declared twice "
                        f"(first as dependencies[{seen[ends]}])",
                        "declare each call once, with all its settings", False))
        seen.setdefault(ends, i)
    return out


def _cycle(edges: list[tuple[int, Dependency]]) -> Iterator[tuple[int, list[str]]]:
    """Each edge that closes a cycle (a back edge of a depth-first search in file order),
    with the cycle's nodes. Iterative: a long chain must not exhaust the stack."""
    out_of: dict[str, list[tuple[int, Dependency]]] = {}
    for i, d in edges:
        out_of.setdefault(d.caller, []).append((i, d))
    state: dict[str, int] = {}  # 1 on the stack, 2 done
    for start in out_of:
        if state.get(start):
            continue
        stack: list[tuple[str, int]] = [(start, 0)]
        on_path = [start]
        state[start] = 1
        while stack:
            node, k = stack[-1]
            children = out_of.get(node, [])
            if k == len(children):
                stack.pop()
                on_path.pop()
                state[node] = 2
                continue
            stack[-1] = (node, k + 1)
            i, d = children[k]
            if state.get(d.callee) == 1:
                yield i, [*on_path[on_path.index(d.callee):], d.callee]
            elif not state.get(d.callee):
                state[d.callee] = 1
                stack.append((d.callee, 0))
                on_path.append(d.callee)


def _hard_cycles(canvas: Canvas) -> list[Finding]:
    hard = [(i, d) for i, d in enumerate(canvas.dependencies) if d.kind == "hard"]
    return [(("dependencies", i), f"hard dependencies form a cycle: {' -> '.join(cycle)}",
             "a request cannot wait for itself; make one of these calls soft (with a "
             "fallback) or remove it", False)
            for i, cycle in _cycle(hard)]


def _journeys(canvas: Canvas) -> list[Finding]:
    out: list[Finding] = []
    nodes = list(canvas.nodes())
    edges = [d.id for d in canvas.dependencies]
    known = {(d.caller, d.callee) for d in canvas.dependencies}
    for name, j in canvas.journeys.items():
        where: Path = ("journeys", name)
        if canvas.node(j.entry) is None:
            out.append(((*where, "entry"), f"unknown entry '{j.entry}'",
                        _unknown(j.entry, nodes, "nodes", "services"), False))
            continue
        reached = {j.entry}
        steps: set[tuple[str, str]] = set()
        bad = False
        for i, step in enumerate(j.steps):
            at: Path = (*where, "steps", i)
            ends = parse_step(step)
            if ends is None:
                out.append((at, f"step {step!r} is not of the form 'caller -> callee'",
                            f"e.g. '{j.entry} -> NAME'", False))
                bad = True
                continue
            if ends not in known:
                wanted = edge_id(*ends)
                hint = suggest(wanted, edges) or (
                    f"dependencies: {_listing([e.replace('->', ' -> ') for e in edges])}"
                    if edges else "declare it under dependencies:")
                out.append((at, f"no dependency {ends[0]} -> {ends[1]}",
                            hint.replace("->", " -> ") if hint.startswith("did") else hint,
                            False))
                bad = True
                continue
            if ends in steps:
                out.append((at, f"step {ends[0]} -> {ends[1]} is listed twice",
                            "list each call once", False))
            elif ends[0] not in reached:
                out.append((at, f"step {ends[0]} -> {ends[1]} starts at {ends[0]}, which "
                            "the journey has not reached", f"steps go in order from the "
                            f"entry '{j.entry}': a step's caller is the entry or the callee "
                            "of an earlier step", False))
                bad = True
            steps.add(ends)
            reached.add(ends[1])
        if bad:
            continue
        calls = canvas.calls(name)
        index = {d.id: i for i, d in enumerate(canvas.dependencies)}
        for _, cycle in _cycle([(index[d.id], d) for d in calls]):
            out.append(((*where, "steps") if j.steps else (*where, "entry"),
                        f"the journey's calls form a cycle: {' -> '.join(cycle)}",
                        "a journey's request goes down its calls, never back; list the "
                        "steps it makes (steps:) without the call back", False))
            break
    return out
