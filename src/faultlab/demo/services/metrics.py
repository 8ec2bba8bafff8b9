"""``/metrics`` on every demo app: what it served, in Prometheus's text format.

``http_requests_total{method, path, code}`` counts every answered request (``path`` is the
route's pattern, so ``/kv/{key}`` is one series, not one per key; unmatched paths are
``other``; a request whose client left first is ``499``), and
``http_request_duration_seconds{method, path}`` is a histogram of how long the app took.
A Prometheus that scrapes the demo can then judge an SLO as a PromQL ratio of the two, the
way teams judge theirs (faultlab's probe ``prometheus:``).

Start-up is on the critical path of every restart fault, so nothing is imported for this
until a scrape: requests are counted in plain dictionaries, and prometheus-client (its
exposition format, its metric families) is imported by the first ``GET /metrics``, which
reads the counts through a collector of the app's own registry.
"""

from __future__ import annotations

import asyncio
import bisect
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

from aiohttp import web

__all__ = ["BUCKETS", "add_metrics"]

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)


class _Served:
    """The counts: requests by (method, path, code); durations by (method, path)."""

    def __init__(self) -> None:
        self.requests: Counter[tuple[str, str, str]] = Counter()
        # (method, path) -> [count per bucket (the last: above every bound), sum of seconds]
        self.durations: dict[tuple[str, str], tuple[list[int], list[float]]] = {}

    def add(self, method: str, path: str, code: int, seconds: float) -> None:
        self.requests[(method, path, str(code))] += 1
        counts, total = self.durations.setdefault((method, path),
                                                  ([0] * (len(BUCKETS) + 1), [0.0]))
        counts[bisect.bisect_left(BUCKETS, seconds)] += 1
        total[0] += seconds

    def collect(self) -> Iterator[Any]:
        from prometheus_client.core import CounterMetricFamily, HistogramMetricFamily

        requests = CounterMetricFamily("http_requests", "Requests answered, by route and "
                                       "status.", labels=["method", "path", "code"])
        for labels, n in sorted(self.requests.items()):
            requests.add_metric(list(labels), n)
        yield requests
        duration = HistogramMetricFamily("http_request_duration_seconds", "Time to answer, "
                                         "by route.", labels=["method", "path"])
        for route, (counts, total) in sorted(self.durations.items()):
            running, buckets = 0, []
            for bound, n in zip((*map(str, BUCKETS), "+Inf"), counts, strict=True):
                running += n
                buckets.append((bound, running))
            duration.add_metric(list(route), buckets, total[0])
        yield duration


def add_metrics(app: web.Application) -> None:
    served = _Served()
    registry: list[Any] = []  # made by the first scrape

    @web.middleware
    async def count(request: web.Request, handler: Handler) -> web.StreamResponse:
        resource = request.match_info.route.resource
        path = resource.canonical if resource is not None else "other"
        if path == "/metrics":
            return await handler(request)
        began = time.perf_counter()
        code = 500
        try:
            response = await handler(request)
            code = response.status
            return response
        except web.HTTPException as e:
            code = e.status
            raise
        except asyncio.CancelledError:
            code = 499  # the client went away first (nginx's convention)
            raise
        finally:
            served.add(request.method, path, code, time.perf_counter() - began)

    async def metrics(request: web.Request) -> web.Response:
        from prometheus_client import CollectorRegistry, generate_latest
        from prometheus_client.exposition import CONTENT_TYPE_LATEST

        if not registry:
            registry.append(CollectorRegistry(auto_describe=False))
            registry[0].register(served)
        return web.Response(body=generate_latest(registry[0]),
                            headers={"Content-Type": CONTENT_TYPE_LATEST})

    app.middlewares.append(count)
    app.router.add_get("/metrics", metrics)
