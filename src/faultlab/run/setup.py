"""Set-up of a run's proxies and the binding of targets to hosts.

The run's own proxy server is spawned only after its intent is journaled (with the marker
every process faultlab starts carries in its environment), so ``faultlab recover`` finds it
even if faultlab is killed between the spawn and the journal line that names its pid.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from faultlab.experiment.model import Experiment
from faultlab.experiment.targets import LOCAL_HOST
from faultlab.faults.base import BoundTarget, ProxyEndpoint
from faultlab.hosts import HOST_KINDS, Host, local_host
from faultlab.journal import Event, Journal

if TYPE_CHECKING:
    from faultlab.proxy.process import ProxyServerHandle

__all__ = ["MARKER_ENV", "bind_targets", "build_hosts", "setup_proxies"]

#: every process faultlab starts for a run carries MARKER_ENV=<run marker> in its environment
MARKER_ENV = "FAULTLAB_RUN"


def build_hosts(exp: Experiment, *, planned: bool = False) -> dict[str, Host]:
    """Every host of the experiment. With ``planned`` (a dry run) the hosts of its own lab,
    which does not exist yet, are as the run would make them (names, addresses)."""
    hosts: dict[str, Host] = {LOCAL_HOST: local_host()}
    for name, spec in exp.hosts.items():
        hosts[name] = HOST_KINDS[spec.kind].host(name, spec)
    lab = exp.system.lab
    if lab is not None:
        from faultlab.lab.host import LabHost

        state = None
        if planned:
            from faultlab.lab.control import free_subnet
            from faultlab.lab.state import new_state

            state = new_state(lab, lab.subnet or free_subnet(), owner=None)
        for name in lab.hosts:
            hosts[name] = (LabHost.planned(name, state, name) if state is not None
                           else LabHost(name, lab.name, name))
    return hosts


def bind_targets(exp: Experiment, hosts: dict[str, Host]) -> dict[str, BoundTarget]:
    names = set(exp.targets) | {LOCAL_HOST}
    out = {}
    for name in names:
        target = exp.target(name)
        assert target is not None
        host = target.host_name
        service = target.process.service if target.process is not None else None
        if service is not None and service in exp.system.services:
            host = exp.system.services[service].host  # a service's processes are on its host
        out[name] = BoundTarget(name, target, hosts[host])
    return out


async def setup_proxies(
        exp: Experiment, run_dir: Path, journal: Journal, marker: str,
        on_spawned: Callable[[ProxyServerHandle], None],
) -> dict[str, ProxyEndpoint]:
    """Endpoints of every proxy target; spawns the run's own proxy server if one is needed.
    ``on_spawned(handle)`` is called as soon as the server runs (so tear-down owns it even
    if creating its proxies fails)."""
    endpoints: dict[str, ProxyEndpoint] = {}
    owned = {n: t.proxy for n, t in exp.targets.items()
             if t.proxy is not None and t.proxy.api is None}
    for name, target in exp.targets.items():
        p = target.proxy
        if p is not None and p.api is not None:
            assert p.name is not None
            endpoints[name] = ProxyEndpoint(p.api, p.name, False, None, p.token)
    if not owned:
        return endpoints
    from faultlab.proxy.client import ProxyClient
    from faultlab.proxy.process import spawn_proxy_server

    (run_dir / "logs").mkdir(exist_ok=True)
    instance = secrets.token_hex(8)
    journal.write(Event.PROXY_SERVER_STARTING, durable=True, marker=marker, instance=instance)
    # its spans (requests it faulted) are the proxy's, not the run's: its own service name
    service = os.environ.get("OTEL_SERVICE_NAME")
    server = await spawn_proxy_server(
        run_dir / "logs" / "proxy.log", instance_id=instance,
        env={MARKER_ENV: marker,
             "OTEL_SERVICE_NAME": f"{service}-proxy" if service else "faultlab-proxy"})
    on_spawned(server)
    ident = local_host().identify(server.pid)
    async with ProxyClient(server.api_url) as client:
        journal.write(Event.PROXY_SERVER_STARTED, durable=True, pid=server.pid,
                      api=server.api_url, started=ident.started if ident else None,
                      instance=instance, marker=marker)
        for name, proxy in owned.items():
            assert proxy is not None and proxy.listen and proxy.upstream
            await client.create_proxy(name, proxy.listen, proxy.upstream,
                                      observe=proxy.observe)
            endpoints[name] = ProxyEndpoint(server.api_url, name, True, instance)
    return endpoints
