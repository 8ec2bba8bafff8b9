"""Checks that span several parts of an experiment (references, overlaps, phase lengths).

Each finding is (path, message, hint, points-at-key). The loader turns paths into
file positions. Checks run only on an experiment that passed model validation.
"""

from __future__ import annotations

from typing import Any

from faultlab.experiment.model import Experiment, KillFault, RestartFault
from faultlab.experiment.yamlpos import Path, suggest
from faultlab.units import format_duration

Finding = tuple[Path, str, str, bool]

__all__ = ["check"]


def check(exp: Experiment, data: Any) -> list[Finding]:
    out: list[Finding] = []
    out += _targets(exp)
    out += _faults(exp)
    out += _slo_references(exp)
    out += _checks(exp)
    return out


def _targets(exp: Experiment) -> list[Finding]:
    out: list[Finding] = []
    listens: dict[str, str] = {}
    services = list(exp.system.services)
    for name, target in exp.targets.items():
        if target.proxy is not None and target.proxy.listen is not None:
            listen = target.proxy.listen
            if listen in listens:
                out.append((("targets", name, "proxy", "listen"),
                            f"listen address {listen} is already used by target "
                            f"'{listens[listen]}'", "give each proxy its own port", False))
            listens[listen] = name
            if listen == target.proxy.upstream:
                out.append((("targets", name, "proxy", "upstream"),
                            "upstream is the proxy's own listen address",
                            "point upstream at the real service", False))
        if target.process is not None and target.process.service is not None:
            svc = target.process.service
            if svc not in exp.system.services:
                hint = suggest(svc, services) or (
                    f"services: {', '.join(services)}" if services
                    else "declare it under system.services")
                out.append((("targets", name, "process", "service"),
                            f"unknown service '{svc}'", hint, False))
    return out


def _faults(exp: Experiment) -> list[Finding]:
    out: list[Finding] = []
    names: dict[str, int] = {}
    target_names = list(exp.targets)
    for i, fault in enumerate(exp.faults):
        where: Path = ("faults", i)
        if fault.label in names:
            out.append(((*where, "name"), f"fault name '{fault.label}' is used twice",
                        "give each fault its own name", False))
        names[fault.label] = i
        target = exp.targets.get(fault.target)
        if target is None:
            hint = suggest(fault.target, target_names) or (
                f"targets: {', '.join(target_names)}" if target_names
                else "declare it under targets:")
            out.append(((*where, "target"), f"unknown target '{fault.target}'", hint, False))
            continue
        if target.kind not in fault.applies_to:
            out.append(((*where, "kind"),
                        f"a {fault.kind} fault cannot apply to {target.kind} target "
                        f"'{fault.target}'", f"{fault.kind} applies to: "
                        f"{', '.join(fault.applies_to)} targets", False))
        if isinstance(fault, KillFault):
            if fault.duration:
                out.append(((*where, "duration"), "a kill is instantaneous; it has no duration",
                            "use restart (kill, then start again after duration) or pause", True))
        elif fault.duration <= 0:
            out.append(((*where, "duration"), f"a {fault.kind} fault needs a duration above 0",
                        "e.g. duration: 5s", False))
        if (isinstance(fault, RestartFault) and target.process is not None
                and target.process.service is None):
            out.append(((*where, "kind"), "restart needs a process faultlab started",
                        "target a process with `service:`, or use kill", False))
    out += _overlaps(exp)
    return out


def _overlaps(exp: Experiment) -> list[Finding]:
    out: list[Finding] = []
    for i, a in enumerate(exp.faults):
        for j in range(i):
            b = exp.faults[j]
            if a.target != b.target:
                continue
            a_end, b_end = a.start + a.duration, b.start + b.duration
            if (a.start < b_end and b.start < a_end) or a.start == b.start or (
                    a.duration == 0 and b.start <= a.start < b_end) or (
                    b.duration == 0 and a.start <= b.start < a_end):
                out.append((("faults", i, "start"),
                            f"overlaps fault '{b.label}' on target '{a.target}' "
                            f"({format_duration(b.start)}..{format_duration(b_end)})",
                            f"start at {format_duration(b_end)} or later, or target another "
                            "endpoint", False))
    return out


def _slo_references(exp: Experiment) -> list[Finding]:
    out: list[Finding] = []
    slo_names = [s.name for s in exp.slos]
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
            if name not in slo_names:
                hint = suggest(name, slo_names) or (
                    f"SLOs: {', '.join(slo_names)}" if slo_names else "declare it under slos:")
                out.append((("hypothesis", phase, "hold", k), f"unknown SLO '{name}'", hint,
                            False))
    if (referenced or exp.abort) and (exp.workload is None or exp.workload.http is None):
        out.append((("hypothesis",) if referenced else ("abort",),
                     "SLOs and abort conditions are measured on an http workload, and there is "
                     "none", "add a workload: http: section", True))
    return out


_CHECKS_FOR = {"linearizable": ("register", "cas-register", "set", "queue"),
               "set": ("set",), "queue": ("queue",), "bank": ("bank",)}


def _checks(exp: Experiment) -> list[Finding]:
    out: list[Finding] = []
    history = exp.workload.history if exp.workload is not None else None
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
