"""``/metrics`` of the demo apps: what Prometheus scrapes to judge the demo's SLOs.

Real sockets: a data app with the metrics middleware, asked over HTTP; the exposition is
parsed with prometheus-client's own parser. The scrape by a real Prometheus is in
tests/integration/test_prometheus.py.
"""

from __future__ import annotations

import aiohttp
from aiohttp.test_utils import TestServer
from prometheus_client.parser import text_string_to_metric_families

from faultlab.demo.services import data
from faultlab.demo.services.metrics import add_metrics


async def test_requests_are_counted_by_route_pattern_and_status() -> None:
    app = data.make_app()
    add_metrics(app)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    try:
        base = str(server.make_url("")).rstrip("/")
        async with aiohttp.ClientSession() as session:
            for path in ("/item/1", "/item/2", "/item/3", "/nope", "/health"):
                async with session.get(base + path) as r:
                    await r.read()
            async with session.get(base + "/metrics") as r:
                assert r.status == 200 and r.content_type == "text/plain"
                text = await r.text()
    finally:
        await server.close()
    counts = {(s.labels["path"], s.labels["code"]): s.value
              for family in text_string_to_metric_families(text)
              if family.name == "http_requests" for s in family.samples
              if s.name == "http_requests_total"}
    item = next(p for p, _ in counts if p.startswith("/item/"))
    assert counts[(item, "200")] == 3  # one series for every id
    assert counts[("other", "404")] == 1 and counts[("/health", "200")] == 1
    assert not any(p == "/metrics" for p, _ in counts)  # a scrape does not count itself
    durations = [s for family in text_string_to_metric_families(text)
                 if family.name == "http_request_duration_seconds" for s in family.samples
                 if s.name == "http_request_duration_seconds_count"]
    assert sum(s.value for s in durations) == 5
