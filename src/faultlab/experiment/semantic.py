"""Checks that span several parts of an experiment (references, overlaps, phase lengths).

Each finding is (path, message, hint, points-at-key). The loader turns paths into
file positions. Checks run only on an experiment that passed model validation.
"""

from __future__ import annotations

import heapq
from typing import Any

from faultlab.experiment.addresses import host_port_identity
from faultlab.experiment.model import Experiment
from faultlab.experiment.targets import LOCAL_HOST
from faultlab.experiment.yamlpos import Path, suggest
from faultlab.units import format_duration

Finding = tuple[Path, str, str, bool]

__all__ = ["check"]


def check(exp: Experiment, data: Any) -> list[Finding]:
    out: list[Finding] = []
    out += _system(exp)
    out += _targets(exp)
    out += _faults(exp)
    out += _schedule(exp)
    out += _slo_references(exp)
    out += _burn_rates(exp)
    out += _checks(exp)
    return out


def _system(exp: Experiment) -> list[Finding]:
    """Lab hosts are hosts by their names: none may clash with hosts:, and services run on
    this machine or inside a lab host."""
    out: list[Finding] = []
    for name in exp.lab_hosts():
        if name in exp.hosts:
            out.append((("system", "lab", "hosts", name), f"host '{name}' is also declared "
                        "under hosts:", "lab hosts are hosts by their names; rename one "
                        "of them", True))
    lab_kind = [LOCAL_HOST, *exp.lab_hosts(),
                *(n for n, h in exp.hosts.items() if getattr(h, "kind", "") == "lab")]
    for name, svc in exp.system.services.items():
        if svc.host not in lab_kind:
            hint = (f"{svc.host} is not a lab host; services run on local or a lab host"
                    if svc.host in exp.hosts else
                    suggest(svc.host, lab_kind) or f"hosts: {_listing(lab_kind)}")
            out.append((("system", "services", name, "host"),
                        f"service '{name}' cannot run on host '{svc.host}'", hint, False))
    return out


def _targets(exp: Experiment) -> list[Finding]:
    out: list[Finding] = []
    seen: dict[tuple[str, ...], str] = {}
    services = list(exp.system.services)
    hosts = exp.host_names()
    for name, target in exp.targets.items():
        where: Path = ("targets", name)
        identity = target.identity()
        if identity in seen:
            out.append((where, f"target '{name}' is the same {target.kind} as target "
                        f"'{seen[identity]}'",
                        "declare it once and point every fault at that target", True))
        seen.setdefault(identity, name)
        if (target.proxy is not None and target.proxy.listen is not None
                and target.proxy.upstream is not None
                and host_port_identity(target.proxy.listen)
                == host_port_identity(target.proxy.upstream)):
                out.append(((*where, "proxy", "upstream"),
                            "upstream is the proxy's own listen address",
                            "point upstream at the real service", False))
        host_path: Path = (*where, "process", "host") if target.process else (*where, "host")
        if target.host_name not in hosts:
            out.append((host_path, f"unknown host '{target.host_name}'",
                        suggest(target.host_name, hosts) or
                        f"hosts: {_listing(hosts)}", False))
        if target.process is not None and target.process.service is not None:
            svc = target.process.service
            if svc not in exp.system.services:
                hint = suggest(svc, services) or (
                    f"services: {_listing(services)}" if services
                    else "declare it under system.services")
                out.append(((*where, "process", "service"),
                            f"unknown service '{svc}'", hint, False))
    return out


def _faults(exp: Experiment) -> list[Finding]:
    out: list[Finding] = []
    names: dict[str, int] = {}
    target_names = list(exp.targets)
    scheduled = _scheduled(exp)
    for i, fault in enumerate(exp.faults):
        where: Path = ("faults", i)
        if fault.label in names:
            out.append(((*where, "name"), f"fault name '{fault.label}' is used twice",
                        "give each fault its own name", False))
        names[fault.label] = i
        refs = fault.target_refs()
        if not refs:
            out.append(((*where, "target"), f"a {fault.kind} fault needs a target",
                        f"targets: {_listing(target_names)}" if target_names
                        else "declare one under targets:", False))
        for path, ref in refs:
            target = exp.target(ref)
            if target is None:
                hint = suggest(ref, target_names) or (
                    f"targets: {_listing(target_names)}" if target_names
                    else "declare it under targets:")
                out.append(((*where, *path), f"unknown target '{ref}'", hint, False))
                continue
            if target.kind not in fault.target_kinds:
                kinds = ", ".join(sorted(fault.target_kinds))
                out.append(((*where, "kind"),
                            f"a {fault.kind} fault cannot apply to {target.kind} target "
                            f"'{ref}'", f"{fault.kind} applies to: {kinds} targets", False))
            elif (fault.needs_service and target.process is not None
                    and target.process.service is None):
                out.append(((*where, "kind"), f"{fault.kind} needs a process faultlab "
                            "started", fault.needs_service, False))
        if fault.instantaneous:
            if fault.duration:
                out.append(((*where, "duration"),
                            f"a {fault.kind} is instantaneous; it has no duration",
                            "use restart (kill, then start again after duration) or pause",
                            True))
        elif fault.one_off:
            pass  # e.g. a command without a revert: it runs once
        elif fault.duration <= 0 and fault.label not in scheduled:
            out.append(((*where, "duration"), f"a {fault.kind} fault needs a duration above 0",
                        "e.g. duration: 5s", False))
    out += _overlaps(exp)
    return out


def _listing(names: list[str], most: int = 10) -> str:
    """Names for a hint: at most ``most`` of them (a hint per finding must stay short, or
    many findings make the output grow as their square)."""
    shown = ", ".join(names[:most])
    return shown + (f", ... ({len(names) - most} more)" if len(names) > most else "")


def _scheduled(exp: Experiment) -> frozenset[str]:
    """Names of the faults a random schedule draws from (their own start is not used)."""
    sched = exp.schedule.random
    return frozenset(sched.faults) if sched is not None else frozenset()


def _identities(exp: Experiment, fault: Any) -> set[tuple[str, ...]]:
    out = set()
    for name in fault.target_names:
        target = exp.target(name)
        if target is not None:
            out.add(target.identity())
    return out


def _overlaps(exp: Experiment) -> list[Finding]:
    """Each fixed exclusive fault that overlaps an earlier one (in file order) on a shared
    target identity, reported once, naming the earlier fault it overlaps.

    Two faults overlap when their intervals [start, start + duration) intersect, when they
    start together, or when an instantaneous one (a point) lies inside the other's interval.
    A point is the interval [start, start + ε), so all three are one test: each starts
    before the other ends. Per identity, a sweep in order of start keeps the faults that
    have not ended in two heaps by file index: the lowest index shows whether an earlier
    fault is still on (this one overlaps it), and the higher indexes still on overlap this
    one, which comes earlier in the file (each is reported once, then leaves that heap).
    O(n log n) in the number of (fault, identity) pairs; a check of every pair took minutes
    for 9,000 faults.
    """
    scheduled = _scheduled(exp)
    groups: dict[tuple[str, ...], list[int]] = {}
    for i, fault in enumerate(exp.faults):
        if fault.exclusive and fault.label not in scheduled:
            for identity in _identities(exp, fault):
                groups.setdefault(identity, []).append(i)
    overlapped: dict[int, int] = {}  # fault index -> the earlier fault it overlaps
    for members in groups.values():
        _sweep(exp, members, overlapped)
    out: list[Finding] = []
    for i in sorted(overlapped):
        a, b = exp.faults[i], exp.faults[overlapped[i]]
        b_end = b.start + b.duration
        on = ", ".join(f"'{t}'" for t in a.target_names)
        out.append((("faults", i, "start"),
                    f"overlaps fault '{b.label}' on target {on} "
                    f"({format_duration(b.start)}..{format_duration(b_end)})",
                    f"start at {format_duration(b_end)} or later, or target another "
                    "endpoint", False))
    return out


def _sweep(exp: Experiment, members: list[int], overlapped: dict[int, int]) -> None:
    def end(i: int) -> tuple[float, int]:  # (time, 1) is just after time: a point's end
        f = exp.faults[i]
        return (f.start + f.duration, 0) if f.duration > 0 else (f.start, 1)

    by_start = sorted(members, key=lambda i: exp.faults[i].start)
    lowest: list[tuple[int, tuple[float, int]]] = []  # (index, end): min-heap, faults on
    highest: list[tuple[int, tuple[float, int]]] = []  # (-index, end): max-heap, faults on
    k = 0
    while k < len(by_start):
        start = exp.faults[by_start[k]].start
        group = []  # the faults starting now (they overlap each other)
        while k < len(by_start) and exp.faults[by_start[k]].start == start:
            group.append(by_start[k])
            k += 1
        for i in group:
            heapq.heappush(lowest, (i, end(i)))
            heapq.heappush(highest, (-i, end(i)))
        now = (start, 0)
        for i in group:
            while lowest and not now < lowest[0][1]:
                heapq.heappop(lowest)  # ended: ends only get earlier than later starts
            if lowest and lowest[0][0] < i:
                overlapped.setdefault(i, lowest[0][0])
            while highest and -highest[0][0] > i:
                j, j_end = heapq.heappop(highest)
                if now < j_end:  # still on: it overlaps i, which is earlier in the file
                    overlapped.setdefault(-j, i)


def _schedule(exp: Experiment) -> list[Finding]:
    sched = exp.schedule.random
    if sched is None:
        return []
    out: list[Finding] = []
    labels = [f.label for f in exp.faults]
    known = set(labels)
    for k, name in enumerate(sched.faults):
        if name not in known:
            out.append((("schedule", "random", "faults", k), f"unknown fault '{name}'",
                        suggest(name, labels) or f"faults: {_listing(labels)}", False))
    drawn = set(sched.faults)
    fixed = [f.label for f in exp.faults if f.label not in drawn]
    if fixed:
        out.append((("schedule", "random", "faults"),
                    f"faults {_listing(fixed)} are not in the random schedule",
                    "with a random schedule, list every fault under schedule.random.faults",
                    False))
    return out


def _slo_references(exp: Experiment) -> list[Finding]:
    out: list[Finding] = []
    slo_names = [s.name for s in exp.slos]
    known_slos = set(slo_names)
    seen: set[str] = set()
    for i, slo in enumerate(exp.slos):
        if slo.name in seen:
            out.append((("slos", i, "name"), f"SLO name '{slo.name}' is used twice",
                        "give each SLO its own name", False))
        seen.add(slo.name)
    clauses = (("before", exp.hypothesis.before.hold), ("during", exp.hypothesis.during.hold),
               ("after", exp.hypothesis.after.hold))
    referenced = False
    for phase, hold in clauses:
        for k, name in enumerate(hold):
            referenced = True
            if name not in known_slos:
                hint = suggest(name, slo_names) or (
                    f"SLOs: {_listing(slo_names)}" if slo_names else "declare it under slos:")
                out.append((("hypothesis", phase, "hold", k), f"unknown SLO '{name}'", hint,
                            False))
    measured = exp.measured_workloads()
    if (referenced or exp.abort) and not measured:
        out.append((("hypothesis",) if referenced else ("abort",),
                     "SLOs and abort conditions are measured on a workload that keeps "
                     "per-second statistics (kind http), and there is none",
                     "add one under workloads: (kind: http) or workload: http:", True))
    workloads = list(exp.all_workloads())
    for i, slo in enumerate(exp.slos):
        if slo.workload is not None:
            if slo.workload not in workloads:
                out.append((("slos", i, "workload"), f"unknown workload '{slo.workload}'",
                            suggest(slo.workload, workloads) or
                            f"workloads: {_listing(workloads)}", False))
            elif slo.workload not in measured:
                out.append((("slos", i, "workload"), f"workload '{slo.workload}' records a "
                            "history, not per-second statistics",
                            f"measured workloads: {_listing(measured) or 'none'}", False))
        elif len(measured) > 1:
            out.append((("slos", i), f"SLO '{slo.name}' must say which workload it measures",
                        f"add workload: one of {_listing(measured)}", True))
    return out


def _burn_rates(exp: Experiment) -> list[Finding]:
    """A burn_rate abort names an SLO whose objective lets some requests fail."""
    out: list[Finding] = []
    slos = {s.name: s for s in exp.slos}
    for i, cond in enumerate(exp.abort):
        rate = cond.burn_rate
        if rate is None:
            continue
        where: Path = ("abort", i, "burn_rate", "slo")
        slo = slos.get(rate.slo)
        if slo is None:
            out.append((where, f"unknown SLO '{rate.slo}'",
                        suggest(rate.slo, list(slos)) or "name one of slos:", False))
        elif slo.allowed_bad() <= 0:
            out.append((where, f"SLO '{rate.slo}' allows no failure (100%, or a latency "
                        "max), so it has no budget to burn", "state it as e.g. 99.9% or p99",
                        False))
    return out


_CHECKS_FOR = {"linearizable": ("register", "cas-register", "set", "queue"),
               "set": ("set",), "queue": ("queue",), "bank": ("bank",)}


def _checks(exp: Experiment) -> list[Finding]:
    out: list[Finding] = []
    histories = [w for w in exp.all_workloads().values() if w.kind == "history"]
    history: Any = histories[0] if histories else None
    for i, check in enumerate(exp.checks):
        if history is None:
            out.append((("checks", i), "checks judge a recorded history, and there is none",
                        "add a workload: history: section", False))
        elif history.model not in _CHECKS_FOR[check.kind]:
            out.append((("checks", i, "kind"),
                        f"a {check.kind} check does not apply to the {history.model} model",
                        f"{check.kind} applies to: {', '.join(_CHECKS_FOR[check.kind])}",
                        False))
    return out
