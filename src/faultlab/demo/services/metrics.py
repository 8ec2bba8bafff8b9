"""``/metrics`` on every demo app: what it served, in Prometheus's text format.

``http_requests_total{method, path, code}`` counts every answered request (``path`` is the
route's pattern, so ``/kv/{key}`` is one series, not one per key; unmatched paths are
``other``; a request whose client left first is ``499``), and
``http_request_duration_seconds{method, path}`` is a histogram of how long the app took.
A Prometheus that scrapes the demo can then judge an SLO as a PromQL ratio of the two, the
way teams judge theirs (faultlab's probe ``prometheus:``). Each app has its own registry:
the process's default one (with its gc and process collectors) is not shown.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

from aiohttp import web

__all__ = ["add_metrics"]

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)


def add_metrics(app: web.Application) -> None:
    from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
    from prometheus_client.exposition import CONTENT_TYPE_LATEST

    registry = CollectorRegistry(auto_describe=True)
    requests = Counter("http_requests_total", "Requests answered, by route and status.",
                       ("method", "path", "code"), registry=registry)
    duration = Histogram("http_request_duration_seconds", "Time to answer, by route.",
                         ("method", "path"), buckets=BUCKETS, registry=registry)

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
            requests.labels(request.method, path, str(code)).inc()
            duration.labels(request.method, path).observe(time.perf_counter() - began)

    async def metrics(request: web.Request) -> web.Response:
        return web.Response(body=generate_latest(registry),
                            headers={"Content-Type": CONTENT_TYPE_LATEST})

    app.middlewares.append(count)
    app.router.add_get("/metrics", metrics)
