"""Prometheus metrics, served at ``/metrics``: counted live on the data path, rendered on
scrape.

The relay adds to plain integers on :class:`ProxyStats` (one attribute add per chunk, no
lock, no label lookup: the event loop is single-threaded); :class:`MetricsCollector` turns
them into metric families only when ``/metrics`` is scraped. So byte counts are live, not
added when a connection ends as in Toxiproxy, and the cost on the hot path is one addition.

Metric families (label ``proxy`` everywhere):

* ``toxiproxy_proxy_received_bytes_total`` / ``toxiproxy_proxy_sent_bytes_total``
  (``direction``, ``proxy``, ``listener``, ``upstream``): Toxiproxy's names and labels; bytes
  read from the sender / written to the receiver of each direction.
* ``faultlab_proxy_dropped_bytes_total`` (``direction``): bytes toxics threw away.
* ``faultlab_proxy_connections_total``, ``faultlab_proxy_connections_active``,
  ``faultlab_proxy_connections_closed_total`` (``reason``).
* ``faultlab_proxy_toxics_active`` (``type``, ``stream``): toxics configured now.
* ``faultlab_proxy_toxic_activations_total`` (``toxic``, ``type``): connections on which a
  toxic began to apply (its toxicity draw said yes).

A proxy's series disappear with the proxy (a counter reset, which Prometheus handles).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING, Protocol

from faultlab.proxy.model import Stream, ToxicSpec

if TYPE_CHECKING:
    from prometheus_client.core import Metric

# prometheus_client is imported on the first scrape, not at start: the server is ready
# sooner and a server nobody scrapes never loads it.

__all__ = ["CONTENT_TYPE", "DirectionStats", "MetricsCollector", "ProxyStats", "render"]

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


class DirectionStats:
    __slots__ = ("dropped", "received", "sent")

    def __init__(self) -> None:
        self.received = 0
        self.sent = 0
        self.dropped = 0


class ProxyStats:
    """Live counters of one proxy; the relay and the listener add to them."""

    def __init__(self) -> None:
        self.directions = {stream: DirectionStats() for stream in Stream}
        self.accepted = 0
        self.active = 0
        self.closed: Counter[str] = Counter()
        self.activations: Counter[tuple[str, str]] = Counter()

    def activated(self, spec: ToxicSpec) -> None:
        self.activations[spec.name, spec.type] += 1


class _Described(Protocol):
    """What the collector needs of a proxy (the listener's Proxy has all of it)."""

    @property
    def name(self) -> str: ...
    @property
    def listen(self) -> str: ...
    @property
    def upstream(self) -> str: ...
    @property
    def stats(self) -> ProxyStats: ...
    @property
    def toxics(self) -> list[ToxicSpec]: ...


class MetricsCollector:
    def __init__(self, proxies: Callable[[], Iterable[_Described]]) -> None:
        self._proxies = proxies

    def collect(self) -> Iterator[Metric]:
        from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

        wire = ["direction", "proxy", "listener", "upstream"]
        received = CounterMetricFamily("toxiproxy_proxy_received_bytes",
                                       "Bytes read from the sending side", labels=wire)
        sent = CounterMetricFamily("toxiproxy_proxy_sent_bytes",
                                   "Bytes written to the receiving side", labels=wire)
        dropped = CounterMetricFamily("faultlab_proxy_dropped_bytes",
                                      "Bytes thrown away by toxics",
                                      labels=["proxy", "direction"])
        accepted = CounterMetricFamily("faultlab_proxy_connections",
                                       "Client connections accepted", labels=["proxy"])
        active = GaugeMetricFamily("faultlab_proxy_connections_active",
                                   "Client connections open now", labels=["proxy"])
        closed = CounterMetricFamily("faultlab_proxy_connections_closed",
                                     "Connections ended, by reason", labels=["proxy", "reason"])
        toxics = GaugeMetricFamily("faultlab_proxy_toxics_active", "Toxics configured now",
                                   labels=["proxy", "type", "stream"])
        activations = CounterMetricFamily(
            "faultlab_proxy_toxic_activations",
            "Connections on which a toxic began to apply", labels=["proxy", "toxic", "type"])
        for proxy in self._proxies():
            stats = proxy.stats
            for stream, counts in stats.directions.items():
                labels = [stream.value, proxy.name, proxy.listen, proxy.upstream]
                received.add_metric(labels, counts.received)
                sent.add_metric(labels, counts.sent)
                dropped.add_metric([proxy.name, stream.value], counts.dropped)
            accepted.add_metric([proxy.name], stats.accepted)
            active.add_metric([proxy.name], stats.active)
            for reason, count in sorted(stats.closed.items()):
                closed.add_metric([proxy.name, reason], count)
            configured = Counter((spec.type, spec.stream.value) for spec in proxy.toxics)
            for (kind, stream_name), count in sorted(configured.items()):
                toxics.add_metric([proxy.name, kind, stream_name], count)
            for (toxic, kind), count in sorted(stats.activations.items()):
                activations.add_metric([proxy.name, toxic, kind], count)
        yield from (received, sent, dropped, accepted, active, closed, toxics, activations)


def render(collector: MetricsCollector) -> bytes:
    from prometheus_client import CollectorRegistry, generate_latest
    from prometheus_client.registry import Collector

    class _Adapter(Collector):
        def collect(self) -> Iterator[Metric]:
            return collector.collect()

    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Adapter())
    return generate_latest(registry)
