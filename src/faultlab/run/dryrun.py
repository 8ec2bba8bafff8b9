"""``faultlab run --dry-run``: resolve every target and print the fault timeline, touching
nothing.

Each check observes only: a port is tested by binding it (and letting go at once), a proxy
server by a GET of its version, a process by reading /proc through its host, a command by
looking it up on the PATH. Nothing is started, signalled or changed. A problem is reported
at the file position of what it is about.
"""

from __future__ import annotations

import asyncio
import shutil
import socket
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from faultlab.experiment.loader import LoadedExperiment
from faultlab.experiment.model import Experiment
from faultlab.experiment.targets import LOCAL_HOST
from faultlab.faults.base import FaultContext, ProxyEndpoint
from faultlab.faults.registry import FAULT_KINDS
from faultlab.run.plan import PlannedFault, plan_faults
from faultlab.run.setup import bind_targets, build_hosts
from faultlab.units import format_duration

__all__ = ["DryRun", "dry_run"]

Report = Callable[[tuple[str | int, ...], str], None]


@dataclass
class DryRun:
    resolved: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)  # "file:line:col: path: what (hint)"
    timeline: list[PlannedFault] = field(default_factory=list)
    lease_grace: float = 0.0

    @property
    def ok(self) -> bool:
        return not self.problems

    def render(self) -> str:
        lines = [f"resolved: {r}" for r in self.resolved]
        lines.append("fault timeline (from the start of the fault phase):")
        for p in self.timeline:
            lease = p.duration + self.lease_grace
            lines.append(f"  {format_duration(p.start):>7} .. "
                         f"{format_duration(p.start + p.duration):<7} {p.label} "
                         f"({p.spec.kind} on {', '.join(p.spec.target_names)}; "
                         f"lease {format_duration(lease)})")
        if not self.timeline:
            lines.append("  (no faults)")
        lines += self.problems
        return "\n".join(lines)


def _port_free(address: str) -> str | None:
    host, _, port = address.rpartition(":")
    host = host.strip("[]")
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, int(port)))
        except OSError as e:
            return e.strerror or str(e)
    return None


def _connects(address: str, timeout: float = 1.0) -> bool:
    host, _, port = address.rpartition(":")
    try:
        with socket.create_connection((host.strip("[]"), int(port)), timeout):
            return True
    except OSError:
        return False


async def dry_run(loaded: LoadedExperiment, seed: int | None = None) -> DryRun:
    import random

    exp = loaded.experiment
    out = DryRun(lease_grace=exp.revert.lease_grace)
    rng = random.Random(seed if seed is not None else (exp.seed or 0))
    out.timeline = plan_faults(exp, rng)

    def problem(path: tuple[str | int, ...], text: str) -> None:
        from faultlab.experiment.errors import format_path

        out.problems.append(f"{loaded.locate(path)}: {format_path(path)}: {text}")

    started = _services(exp, out, problem)
    proxies = await _proxies(exp, out, problem, started)
    hosts = build_hosts(exp, planned=True)
    _lab(exp, out, problem)
    ctx = FaultContext(bind_targets(exp, hosts), None, proxies, exp.revert.timeout,
                       exp.revert.lease_grace, rng)
    for i, spec in enumerate(exp.faults):
        fault = FAULT_KINDS[spec.kind].fault(spec, ctx)
        try:
            for line in await fault.check():
                out.resolved.append(f"fault {spec.label}: {line}")
        except Exception as e:
            problem(("faults", i), str(e))
    for host in hosts.values():
        await host.close()
    return out


def _lab(exp: Experiment, out: DryRun, problem: Report) -> None:
    """The run's own lab: its name and subnet must be free now."""
    lab = exp.system.lab
    if lab is None:
        return
    from faultlab.lab.state import read_state

    try:
        taken = read_state(lab.name) is not None
    except ValueError:
        taken = True
    if taken:
        problem(("system", "lab", "name"), f"lab '{lab.name}' is already up; `faultlab lab "
                f"down {lab.name}` removes it, or give the lab another name (--var)")
    where = f"subnet {lab.subnet}" if lab.subnet else "a free /24"
    out.resolved.append(f"lab {lab.name}: {len(lab.hosts)} hosts ({', '.join(lab.hosts)}) "
                        f"in {where}, made by the run")


def _services(exp: Experiment, out: DryRun, problem: Report) -> set[str]:
    """Addresses services faultlab starts will serve (so proxies may point at them)."""
    serves: set[str] = set()
    for name, svc in exp.system.services.items():
        path: tuple[str | int, ...] = ("system", "services", name)
        exe = svc.command[0]
        found = (Path(svc.cwd or ".", exe).exists() if "/" in exe else
                 shutil.which(exe) is not None)
        if not found:
            problem((*path, "command"), f"command {exe!r} not found")
        else:
            out.resolved.append(f"service {name}: {exe}" + (
                f" on lab host {svc.host}" if svc.host != LOCAL_HOST else ""))
        ready = svc.ready
        address = None
        if ready is not None and ready.tcp is not None:
            address = ready.tcp
        elif ready is not None and ready.http is not None:
            from urllib.parse import urlsplit

            u = urlsplit(ready.http)
            address = f"{u.hostname}:{u.port or (443 if u.scheme == 'https' else 80)}"
        if address is not None:
            serves.add(address)
            # on a lab host, its address exists only once the lab is up: nothing to probe
            if svc.host == LOCAL_HOST and _connects(address):
                problem((*path, "ready"),
                        f"{address} already answers before the service is started: another "
                        "process holds it")
    return serves


async def _proxies(exp: Experiment, out: DryRun, problem: Report,
                   serves: set[str]) -> dict[str, ProxyEndpoint]:
    from faultlab.faults.kinds.toxic import proxy_client

    endpoints: dict[str, ProxyEndpoint] = {}
    for name, target in exp.targets.items():
        p = target.proxy
        if p is None:
            continue
        path: tuple[str | int, ...] = ("targets", name, "proxy")
        if p.api is None:
            assert p.listen is not None and p.upstream is not None
            endpoints[name] = ProxyEndpoint("http://127.0.0.1:0", name, True)
            why = _port_free(p.listen)
            if why is not None:
                problem((*path, "listen"), f"cannot listen on {p.listen}: "
                        f"{why}")
            else:
                out.resolved.append(f"proxy {name}: {p.listen} is free")
            if p.upstream not in serves and not _connects(p.upstream):
                out.resolved.append(f"proxy {name}: upstream {p.upstream} does not answer yet "
                                    "(no service of this experiment serves it)")
            continue
        assert p.name is not None
        endpoints[name] = ProxyEndpoint(p.api, p.name, False, None, p.token)
        try:
            async with proxy_client(p.api, p.token) as client:
                await asyncio.wait_for(client.get_proxy(p.name), 5.0)
            out.resolved.append(f"proxy {name}: {p.name} at {p.api}")
        except Exception as e:
            problem((*path, "api"), f"proxy {p.name!r} at {p.api} is not usable: "
                    f"{str(e) or type(e).__name__}")
    return endpoints
