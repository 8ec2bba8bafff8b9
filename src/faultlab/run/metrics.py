"""faultlab's own metrics during a run, for the team's Prometheus and Grafana (opt-in).

``faultlab run --metrics 127.0.0.1:9464`` serves ``/metrics`` (Prometheus text format) for
as long as the run lasts: the workloads' requests by outcome and their latency in the last
completed second, the faults in force, the phase, so a GameDay can be watched live next to
the system's own dashboards. The endpoint listens on loopback only (it says which faults
are in force, and has no authentication); the proxy server has its own ``/metrics``.

Figures are read at scrape time from what the runner hands over (each completed second,
phase changes, the active faults), through a custom collector of ``prometheus_client``;
nothing here changes how a run is judged.
"""

from __future__ import annotations

import ipaddress
import socket
from collections import Counter
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from aiohttp import web
    from prometheus_client.core import Metric

    from faultlab.workload.stats import SecondStats

__all__ = ["MetricsError", "RunMetrics", "parse_address"]

QUANTILES = {"0.5": 50.0, "0.9": 90.0, "0.95": 95.0, "0.99": 99.0, "0.999": 99.9, "1": 100.0}
OUTCOMES = ("ok", "failed", "timed_out", "dropped")


class MetricsError(ValueError):
    """An address the metrics endpoint will not listen on."""


def parse_address(text: str) -> tuple[str, int]:
    """``HOST:PORT`` on loopback (``127.0.0.1:9464``, ``[::1]:0``); MetricsError if not."""
    host, sep, port = text.rpartition(":")
    host = host.strip("[]")
    try:
        if not sep or not port.isdigit() or int(port) > 65535:
            raise ValueError
        loopback = ipaddress.ip_address(host).is_loopback
    except ValueError:
        raise MetricsError(f"--metrics {text!r}: expected HOST:PORT with a loopback address "
                           "(hint: --metrics 127.0.0.1:9464)") from None
    if not loopback:
        raise MetricsError(f"--metrics {text!r}: the run's metrics are served on loopback "
                           "only (they say which faults are in force, unauthenticated); "
                           "hint: --metrics 127.0.0.1:9464 and let Prometheus scrape it there")
    return host, int(port)


class RunMetrics:
    """What the run's endpoint serves; fed by the runner, read at each scrape."""

    def __init__(self, experiment: str, run_dir: str, sock: socket.socket) -> None:
        self.experiment = experiment
        self.run_dir = run_dir
        self._sock = sock
        self.phase = "setup"
        self.requests: Counter[tuple[str, str]] = Counter()
        self.latency: dict[str, dict[str, float]] = {}
        self.active_faults: Callable[[], list[tuple[str, str, str]]] = list
        self._runner: web.AppRunner | None = None
        self.url = ""

    def on_second(self, workload: str, s: SecondStats) -> None:
        for outcome in OUTCOMES:
            self.requests[(workload, outcome)] += getattr(s, outcome)
        h = s.histogram
        if h.get_total_count():
            self.latency[workload] = {q: h.get_value_at_percentile(p) / 1e6
                                      for q, p in QUANTILES.items()}

    def collect(self) -> Iterator[Metric]:
        from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

        info = GaugeMetricFamily("faultlab_run_info", "The experiment being run (always 1).",
                                 labels=["experiment", "run_dir", "phase"])
        info.add_metric([self.experiment, self.run_dir, self.phase], 1)
        yield info
        requests = CounterMetricFamily("faultlab_workload_requests", "Requests of each "
                                       "measured workload, by outcome, in completed seconds.",
                                       labels=["workload", "outcome"])
        for (workload, outcome), n in sorted(self.requests.items()):
            requests.add_metric([workload, outcome], n)
        yield requests
        latency = GaugeMetricFamily("faultlab_workload_latency_seconds", "Latency of the "
                                    "last completed second, from the intended send time.",
                                    labels=["workload", "quantile"])
        for workload, values in sorted(self.latency.items()):
            for q, v in values.items():
                latency.add_metric([workload, q], v)
        yield latency
        faults = GaugeMetricFamily("faultlab_fault_active", "Faults in force now (1 each).",
                                   labels=["fault", "kind", "target"])
        for name, kind, target in self.active_faults():
            faults.add_metric([name, kind, target], 1)
        yield faults

    def exposition(self) -> bytes:
        from prometheus_client import CollectorRegistry, generate_latest

        registry = CollectorRegistry(auto_describe=False)
        registry.register(self)  # a collector: it has collect()
        return bytes(generate_latest(registry))

    @staticmethod
    def bind(address: tuple[str, int]) -> socket.socket:
        """The listening socket, made before anything of the run exists: a taken port is
        an OSError here, and nothing is left behind."""
        host, port = address
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((host, port))
            sock.listen(64)
        except OSError:
            sock.close()
            raise
        sock.setblocking(False)
        return sock

    async def start(self) -> str:
        """Serve on the bound socket; returns the endpoint's URL."""
        from aiohttp import web
        from prometheus_client import CONTENT_TYPE_LATEST

        async def metrics(request: web.Request) -> web.Response:
            return web.Response(body=self.exposition(),
                                headers={"Content-Type": CONTENT_TYPE_LATEST})

        app = web.Application()
        app.router.add_get("/metrics", metrics)
        runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await runner.setup()
        await web.SockSite(runner, self._sock).start()
        self._runner = runner
        bound = self._sock.getsockname()
        shown = f"[{bound[0]}]" if ":" in bound[0] else bound[0]
        self.url = f"http://{shown}:{bound[1]}/metrics"
        return self.url

    async def stop(self) -> None:
        runner, self._runner = self._runner, None
        if runner is not None:
            await runner.cleanup()
        self._sock.close()
