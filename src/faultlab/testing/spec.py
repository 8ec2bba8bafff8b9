"""A fault as the fixture is asked for it, validated as an experiment file's fault entry.

``faultlab_fault("latency", target=proxy, delay="200ms")`` becomes the one-fault experiment
``{targets: {pytest-1: ...}, faults: [{kind: latency, target: pytest-1, delay: 200ms}]}``
(the target named after the proxy, ``pid-<pid>`` for a process, else ``target``), which goes
through the experiment model and the semantic checks: the fault kinds are the registry's
(plug-ins included), the units, messages and hints those of experiment files. Only the
locations differ: a problem is named by its parameter, not by a line.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from faultlab.errors import FaultlabError
from faultlab.testing.proxies import Proxy

if TYPE_CHECKING:
    from faultlab.experiment.errors import Problem
    from faultlab.faults import FaultContext, FaultSpec

__all__ = ["FaultSpecError", "HasPid", "ResolvedFault", "TargetLike", "resolve_fault"]

#: the name of the one target in the experiment a fault is validated in, when the target
#: itself gives none that is a valid name
TARGET = "target"

#: fault entry keys the block decides, never the caller: it is the fault's extent in time
_RESERVED = {"start": "the fault is injected when the block is entered",
             "duration": "the fault lasts as long as the block; lease= bounds it if the "
                         "test process dies"}


class FaultSpecError(FaultlabError):
    """The fault's parameters are invalid; ``problems`` holds one line per mistake."""

    def __init__(self, kind: str, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("\n".join(f"faultlab_fault({kind!r}): {p}" for p in problems))


@runtime_checkable
class HasPid(Protocol):
    """A process object (``subprocess.Popen``, ``asyncio.subprocess.Process``, ...)."""

    @property
    def pid(self) -> int: ...


#: what a fault may target: a proxy, a process (a pid or an object with ``.pid``), a target
#: mapping as under ``targets:`` in an experiment file, or None for the kind's default
TargetLike = Proxy | int | HasPid | Mapping[str, Any] | None


@dataclass
class ResolvedFault:
    spec: FaultSpec
    ctx: FaultContext
    cleanup: Callable[[], None]  # removes what resolving made (a pid file)


def _line(problem: Problem, key: str) -> str:
    path = problem.path
    for prefix, replacement in (("faults[0].", ""), ("faults[0]", ""),
                                (f"targets.{key}", "target")):
        if path.startswith(prefix):
            path = replacement + path[len(prefix):]
            break
    where = f"{path}: " if path else ""
    hint = f" (hint: {problem.hint})" if problem.hint else ""
    return f"{where}{problem.message}{hint}"


def _is_name(text: str) -> bool:
    from pydantic import TypeAdapter, ValidationError

    from faultlab.experiment.types import Name

    try:
        TypeAdapter(Name).validate_python(text)
    except ValidationError:
        return False
    return True


def _target_document(target: TargetLike, workdir: Callable[[], str]
                     ) -> tuple[str, dict[str, Any] | None, list[str]]:
    """(the target's name, its entry under targets:, problems)."""
    if target is None:
        return TARGET, None, []
    if isinstance(target, Proxy):
        key = target.name if _is_name(target.name) else TARGET
        return key, {"proxy": {"api": target.server.api_url, "name": target.name}}, []
    pid = target if isinstance(target, int) else getattr(target, "pid", None)
    if isinstance(pid, int) and not isinstance(pid, bool):
        # A process target names a pid file (the file format has no pid: a pid alone is
        # ambiguous once written down); the fault reads it once, at prepare, and keeps the
        # process's identity (pid and start time) from then on.
        path = os.path.join(workdir(), "pid")
        with open(path, "w") as f:
            f.write(f"{pid}\n")
        return f"pid-{pid}", {"process": {"pidfile": path}}, []
    if isinstance(target, Mapping):
        doc = dict(target)
        proxy = doc.get("proxy")
        if isinstance(proxy, Mapping) and "api" not in proxy:
            return TARGET, None, [
                "target: a proxy with listen and upstream is made by the faultlab_proxy "
                "fixture (hint: pass the Proxy it returns, or api and name of a running "
                "proxy server)"]
        return TARGET, doc, []
    return TARGET, None, [f"target: expected a Proxy from faultlab_proxy, a pid, a process "
                          f"object or a target mapping as in an experiment file, got "
                          f"{type(target).__name__}"]


def resolve_fault(kind: str, target: TargetLike, params: Mapping[str, object], *,
                  lease: float, revert_timeout: float) -> ResolvedFault:
    """The fault's validated spec and the context to build it in; FaultSpecError if not."""
    __tracebackhide__ = True  # pytest shows the test's line, not this function's
    import random

    from pydantic import ValidationError

    from faultlab.experiment.errors import problems_from
    from faultlab.experiment.model import experiment_model
    from faultlab.experiment.semantic import check
    from faultlab.experiment.types import dump_duration
    from faultlab.experiment.yamlpos import Positions
    from faultlab.faults import FAULT_KINDS, FaultContext, ProxyEndpoint
    from faultlab.run.setup import bind_targets, build_hosts

    made: list[str] = []

    def workdir() -> str:
        if not made:
            made.append(tempfile.mkdtemp(prefix="faultlab-target-"))
        return made[0]

    def cleanup() -> None:
        for d in made:
            shutil.rmtree(d, ignore_errors=True)

    problems = [f"{k}: not a parameter here ({why})" for k, why in _RESERVED.items()
                if k in params]
    key, doc, target_problems = _target_document(target, workdir)
    problems += target_problems
    if problems:
        cleanup()
        raise FaultSpecError(kind, problems)
    entry: dict[str, Any] = {"kind": kind, **params}
    if doc is not None:
        entry["target"] = key
    known = FAULT_KINDS.get(kind)
    # The lease is the fault's whole life: the proxy server (a ttl) or a keeper process
    # reverts it by itself after that, also if this process is killed.
    entry["duration"] = (0 if known is not None and known.spec.instantaneous
                         else dump_duration(lease))
    data = {"name": "pytest", "targets": {key: doc} if doc is not None else {},
            "faults": [entry]}
    try:
        exp = experiment_model().model_validate(data)
    except ValidationError as e:
        cleanup()
        raise FaultSpecError(kind, [_line(p, key)
                                    for p in problems_from(e, "", Positions(), data)]) from None
    findings = check(exp, data)
    if findings:
        from faultlab.experiment.errors import Problem, format_path

        cleanup()
        raise FaultSpecError(kind, [_line(Problem("", 1, 1, format_path(path), msg, hint), key)
                                    for path, msg, hint, _ in findings])
    spec = exp.faults[0]
    proxies: dict[str, ProxyEndpoint] = {}
    bound = exp.targets.get(key)
    if bound is not None and bound.proxy is not None and bound.proxy.api is not None:
        assert bound.proxy.name is not None
        # A Proxy from the fixture is on our own server, whose identity we know.
        instance = target.server.instance if isinstance(target, Proxy) else None
        proxies[key] = ProxyEndpoint(bound.proxy.api, bound.proxy.name,
                                     isinstance(target, Proxy), instance, bound.proxy.token)
    ctx = FaultContext(bind_targets(exp, build_hosts(exp)), None, proxies, revert_timeout,
                       0.0, random.Random())
    return ResolvedFault(spec, ctx, cleanup)
