"""Bringing labs up and down: all or nothing, recorded before it is made, idempotent down."""

from __future__ import annotations

import asyncio
import ipaddress
import os
import subprocess
from collections.abc import Callable
from dataclasses import dataclass

from faultlab.errors import FaultlabError
from faultlab.lab import net
from faultlab.lab.host import lab_env
from faultlab.lab.spec import LAB_NETWORK, LabSpec
from faultlab.lab.state import (
    LabState,
    ProcessState,
    all_labs,
    lab_dir,
    lock,
    new_state,
    read_state,
    remove_state,
    write_state,
)

__all__ = ["LabError", "LabSummary", "free_subnet", "lab_down", "lab_up", "list_labs", "owned_by"]


class LabError(FaultlabError):
    """A lab could not be brought up or removed; the message says why and what to do."""


def _check_root() -> None:
    if os.geteuid() != 0:
        raise LabError("a lab needs root (network namespaces, bridges): run as root or with "
                       "sudo")


def _other_subnets() -> list[ipaddress.IPv4Network]:
    nets = []
    for name in all_labs():
        try:
            state = read_state(name)
        except ValueError:
            continue
        if state is not None:
            nets.append(ipaddress.IPv4Network(state.subnet))
    return nets


def _pick_subnet(spec: LabSpec) -> str:
    taken = _other_subnets() + net.used_networks()
    if spec.subnet is not None:
        want = ipaddress.IPv4Network(spec.subnet)
        clash = next((n for n in taken if n.overlaps(want)), None)
        if clash is not None:
            raise LabError(f"lab '{spec.name}': subnet {want} overlaps {clash}, already in use "
                           "on this machine (see `faultlab lab ls`); give another subnet "
                           "(or --var) or leave it out to get a free one")
        return str(want)
    return _first_free(taken)


def _free(taken: list[ipaddress.IPv4Network]) -> list[ipaddress.IPv4Network]:
    free = [c for c in LAB_NETWORK.subnets(new_prefix=24)
            if not any(n.overlaps(c) for n in taken)]
    if not free:
        raise LabError(f"no free /24 is left in {LAB_NETWORK}; `faultlab lab ls` shows the "
                       "labs")
    return free


def _first_free(taken: list[ipaddress.IPv4Network]) -> str:
    return str(_free(taken)[0])


def free_subnet() -> str:
    """A /24 no lab and no interface uses now, for files that must name their addresses
    before the lab exists (``--var``). It is not reserved: it is drawn at random among the
    free ones, so two runs asking at once almost never get the same (and if they do, the
    second `lab up` refuses the overlap, cleanly)."""
    import random

    with lock():
        taken = _other_subnets() + net.used_networks()
    return str(random.SystemRandom().choice(_free(taken)))


async def lab_up(spec: LabSpec, *, owner: str | None = None,
                 on_state: Callable[[LabState], None] | None = None) -> LabState:
    """Build the lab and start its processes (ready checks proven); on any failure remove
    everything made and raise LabError. ``on_state`` sees the state once it is on disk
    (before anything exists), e.g. to journal it."""
    _check_root()
    with lock():
        try:
            existing = read_state(spec.name)
        except ValueError as e:
            raise LabError(f"lab '{spec.name}': {e}; `faultlab lab down {spec.name}` removes "
                           "what is left") from None
        if existing is not None:
            raise LabError(f"lab '{spec.name}' is already up (status {existing.status}"
                           + (", owned by a run" if existing.owner else "")
                           + f"); `faultlab lab down {spec.name}` removes it, or give this "
                           "lab another name")
        state = new_state(spec, _pick_subnet(spec), owner)
        write_state(state)
    try:
        if on_state is not None:
            on_state(state)
        await asyncio.to_thread(net.create, state)
        for host_name, host in spec.hosts.items():
            for proc_name in host.processes:
                await _start(state, spec, host_name, proc_name)
        state.status = "up"
        write_state(state)
        return state
    except BaseException as e:
        await asyncio.shield(asyncio.to_thread(_remove, state))
        if isinstance(e, net.NetError):
            raise LabError(f"lab '{spec.name}': {e}") from None
        raise


async def _start(state: LabState, spec: LabSpec, host_name: str, proc_name: str) -> None:
    from faultlab.hosts.local import start_time
    from faultlab.system import probe_ready

    pspec = spec.hosts[host_name].processes[proc_name]
    host = state.host(host_name)
    assert host is not None
    logs = lab_dir(state.name) / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    log_path = logs / f"{host_name}.{proc_name}.log"
    where = f"lab '{state.name}': process '{proc_name}' on host '{host_name}'"
    if pspec.ready is not None and pspec.ready.command is None:
        squatter, seen = await probe_ready(pspec.ready)
        if squatter:
            raise LabError(f"{where}: its ready check already answers ({seen}) before it "
                           f"started: something else holds {pspec.ready.http or pspec.ready.tcp}")
    with open(log_path, "ab") as log:
        try:
            proc = subprocess.Popen(
                ["ip", "netns", "exec", host.netns, *pspec.command], cwd=pspec.cwd,
                env={**os.environ, **lab_env(state, host), **pspec.env},
                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                start_new_session=True)
        except OSError as e:
            raise LabError(f"{where}: cannot run {pspec.command[0]!r}: {e.strerror}") from None
    started = start_time(proc.pid)
    state.processes.append(ProcessState(host=host_name, name=proc_name, pid=proc.pid,
                                        started=started or 0, log=str(log_path)))
    write_state(state)
    if pspec.ready is None:
        return
    loop = asyncio.get_running_loop()
    deadline = loop.time() + pspec.ready.timeout
    seen = "no answer yet"
    while True:
        code = proc.poll()
        if code is not None:
            raise LabError(f"{where} exited with code {code} before it was ready (see "
                           f"{log_path})")
        ok, seen = await probe_ready(pspec.ready)
        if ok and proc.poll() is None:
            proc.returncode = 0  # it outlives this process; keep Popen from warning
            return
        if loop.time() >= deadline:
            raise LabError(f"{where} was not ready within {pspec.ready.timeout:g}s: {seen} "
                           f"(see {log_path})")
        await asyncio.sleep(pspec.ready.interval)


def _grace(state: LabState) -> float:
    try:
        spec = LabSpec.model_validate(state.spec)
    except ValueError:
        return 2.0
    timeouts = [p.stop_timeout for h in spec.hosts.values() for p in h.processes.values()]
    return max(timeouts, default=2.0)


def _remove(state: LabState) -> list[str]:
    state.status = "removing"
    write_state(state)
    net.destroy(state, _grace(state))
    left = net.leftovers(state)
    if not left:
        remove_state(state.name)
    return left


def lab_down(name: str) -> str:
    """Remove the lab and everything in it; what is already gone is skipped. Returns what
    was done, for people; raises LabError if something could not be removed."""
    _check_root()
    with lock():
        try:
            state = read_state(name)
        except ValueError as e:
            orphans = _orphan_netns(name)
            if orphans:
                net._ip([], "".join(f"netns del {n}\n" for n in orphans), force=True)
            remove_state(name)
            return f"lab '{name}': state was damaged ({e}); removed it" + (
                f" and namespaces {', '.join(orphans)}" if orphans else "")
        if state is None:
            orphans = _orphan_netns(name)
            if not orphans:
                return f"lab '{name}': nothing to remove (not up)"
            net._ip([], "".join(f"netns del {n}\n" for n in orphans), force=True)
            return f"lab '{name}': removed namespaces left without state: {', '.join(orphans)}"
        left = _remove(state)
    if left:
        raise LabError(f"lab '{name}': could not remove {', '.join(left)}; run `faultlab lab "
                       f"down {name}` again, or remove them with `ip`")
    return (f"lab '{name}' removed ({len(state.hosts)} hosts, {len(state.processes)} "
            "processes)")


def _orphan_netns(name: str) -> list[str]:
    prefix = f"fl-{name}-"
    if not net.NETNS_DIR.is_dir():
        return []
    return sorted(p.name for p in net.NETNS_DIR.iterdir() if p.name.startswith(prefix))


@dataclass(frozen=True)
class LabSummary:
    name: str
    status: str
    subnet: str
    hosts: dict[str, str]
    processes: int
    running: int
    owner: str | None
    created: float
    problem: str | None = None


def list_labs() -> list[LabSummary]:
    from faultlab.hosts.local import start_time

    out = []
    for name in all_labs():
        try:
            state = read_state(name)
        except ValueError as e:
            out.append(LabSummary(name, "damaged", "", {}, 0, 0, None, 0.0, str(e)))
            continue
        if state is None:
            continue
        running = sum(1 for p in state.processes if start_time(p.pid) == p.started)
        out.append(LabSummary(name, state.status, state.subnet, state.names(),
                              len(state.processes), running, state.owner, state.created))
    return out


def owned_by(marker: str) -> list[str]:
    """Labs a run (by its marker) brought up, for recovery."""
    found = []
    for name in all_labs():
        try:
            state = read_state(name)
        except ValueError:
            continue
        if state is not None and state.owner == marker:
            found.append(name)
    return found
