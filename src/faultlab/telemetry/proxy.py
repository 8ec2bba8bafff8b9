"""The proxy server's spans: one per toxic that faulted a traced HTTP request.

When the proxy server process has an OTLP endpoint in its environment
(:func:`injection_tracer` answers None otherwise, importing nothing), every proxy frames
its connections' HTTP requests (as ``observe: true`` does, without keeping records for
proxies that do not observe), and each request that carried a valid W3C ``traceparent``
is judged when it ends (answered, injected, given up or closed). For each toxic that
faulted it a span ``faultlab.inject <toxic type>`` is made, a child of the caller's span
(the traceparent's parent id, in the caller's trace), from the request's head to its end:

* ``http_abort``: the request it answered (outcome ``injected``), matching method and path;
  no other toxic counts for that request (the proxy's answer passes none);
* ``http_delay``: the requests it held (matching method and path);
* ``connect_delay``: the first request of a connection whose dial it held;
* every other data toxic (latency, timeout, reset_peer, bandwidth, slicer, limit_data,
  slow_close): each request on a connection it applies to (its toxicity draw), while it
  is in the proxy's chain when the request ends; ``noop`` and ``connect_refuse`` (no
  request gets through) never.

Spans are queued for the SDK's batch processor (a thread of its own exports them), so the
relay never waits on a collector; the queue is flushed, within a bounded time, when the
server stops. An export that fails is one ``telemetry_export_failed`` line in the server's
log, once. A bug here never reaches the connection: it is logged once and the request is
not traced.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from faultlab.telemetry.config import OtlpConfig, from_env

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SpanExporter

    from faultlab.proxy.listener import Proxy
    from faultlab.proxy.model import ToxicSpec
    from faultlab.proxy.observe import RequestObservation
    from faultlab.proxy.relay import Connection
    from faultlab.proxy.toxics.http_parser import RequestHead

__all__ = ["InjectionTracer", "injection_tracer"]

RequestDone = Callable[["RequestHead", "RequestObservation"], None]
SERVICE = "faultlab-proxy"
SHUTDOWN_MS = 3000
_NEVER = frozenset({"noop", "connect_refuse"})
_MATCHING = frozenset({"http_abort", "http_delay"})


def injection_tracer(warn: Callable[[str], None]) -> InjectionTracer | None:
    """The tracer of this process's environment, or None (nothing imported) when no OTLP
    endpoint is set. ``warn`` gets each warning line (the server's log)."""
    config = from_env()
    if config is None:
        return None
    try:
        return InjectionTracer(config, warn)
    except Exception as e:  # a broken SDK install: the proxy serves all the same
        warn(f"no spans: {type(e).__name__}: {e}")
        return None


def faulted_by(spec: ToxicSpec, conn: Connection, head: RequestHead,
               record: RequestObservation) -> bool:
    """Whether the toxic ``spec`` faulted this request (see the module docstring)."""
    if spec.type in _NEVER:
        return False
    if record.outcome == "injected" and spec.type != "http_abort":
        return False  # the proxy's own answer passed no other toxic
    try:
        if not conn.applies(spec):
            return False
    except KeyError:  # not in this connection's chain (added and removed meanwhile)
        return False
    if spec.type in _MATCHING:
        method = str(getattr(spec.attributes, "method", ""))
        prefix = str(getattr(spec.attributes, "path_prefix", ""))
        if (method and head.method != method) or not head.path.startswith(prefix):
            return False
        return spec.type != "http_abort" or record.outcome == "injected"
    if spec.type == "connect_delay":
        return record.seq == 0
    return True


class InjectionTracer:
    def __init__(self, config: OtlpConfig, warn: Callable[[str], None],
                 exporter: SpanExporter | None = None) -> None:
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor
        from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

        from faultlab import __version__
        from faultlab.telemetry.export import ReportingExporter, resource
        from faultlab.telemetry.export import exporter as otlp_exporter

        self._warn = warn
        self._warned: set[str] = set()
        self.endpoint = config.endpoint
        self._exporter = ReportingExporter(exporter or otlp_exporter(config), self._failed)
        self._provider: TracerProvider = TracerProvider(resource=resource(SERVICE),
                                                        shutdown_on_exit=False)
        self._provider.add_span_processor(BatchSpanProcessor(self._exporter))
        self._tracer = self._provider.get_tracer("faultlab.proxy", __version__)
        self._propagator = TraceContextTextMapPropagator()

    def bind(self, proxy: Proxy, conn: Connection) -> RequestDone:
        """The callback an observer calls with each traced request of ``conn``."""
        def done(head: RequestHead, record: RequestObservation) -> None:
            try:
                self._request(proxy, conn, head, record)
            except Exception as e:  # never the relay's problem
                self._once("bug", f"a traced request was not traced: {type(e).__name__}: {e}")
        return done

    def _request(self, proxy: Proxy, conn: Connection, head: RequestHead,
                 record: RequestObservation) -> None:
        from opentelemetry.trace import SpanKind, Status, StatusCode

        faulting = [spec for spec in proxy.toxics if faulted_by(spec, conn, head, record)]
        if not faulting or head.traceparent is None:
            return
        parent = self._propagator.extract({"traceparent": head.traceparent})
        # relay clock (monotonic seconds) -> Unix nanoseconds, as of now
        offset = time.time() - time.monotonic()
        start = int((record.start + offset) * 1e9)
        end = int(((record.end if record.end is not None else record.start) + offset) * 1e9)
        for spec in faulting:
            attributes: dict[str, str | int | float] = {
                "faultlab.proxy.name": proxy.name, "faultlab.proxy.connection": record.conn,
                "faultlab.toxic.name": spec.name, "faultlab.toxic.kind": spec.type,
                "faultlab.toxic.stream": spec.stream.value,
                "faultlab.toxic.toxicity": spec.toxicity,
                "faultlab.request.outcome": record.outcome,
                "http.request.method": record.method, "url.path": record.path}
            for f in dataclasses.fields(spec.attributes):  # type: ignore[arg-type]
                value = getattr(spec.attributes, f.name)
                if isinstance(value, int | str):
                    attributes[f"faultlab.toxic.{f.name}"] = value
            if record.status is not None:
                attributes["http.response.status_code"] = record.status
            if record.request_id is not None:
                attributes["faultlab.request.id"] = record.request_id
            span = self._tracer.start_span(f"faultlab.inject {spec.type}", context=parent,
                                           kind=SpanKind.INTERNAL, start_time=start,
                                           attributes=attributes)
            if record.outcome == "injected":
                span.set_status(Status(StatusCode.ERROR, f"injected {record.status}"))
            elif record.outcome == "closed":
                span.set_status(Status(StatusCode.ERROR, "no response: the connection "
                                       "closed, or the client gave up"))
            span.end(end_time=end)

    def shutdown(self) -> None:
        """Export what is queued (at most SHUTDOWN_MS, plus one export's timeout)."""
        self._exporter.closing = True
        try:
            self._provider.force_flush(SHUTDOWN_MS)
            self._provider.shutdown()
        except Exception as e:
            self._once("shutdown", f"traces not flushed: {type(e).__name__}: {e}")

    def _failed(self) -> None:
        from faultlab.telemetry.export import SdkLogs

        self._once("export", f"spans not exported to {self.endpoint}: "
                   f"{SdkLogs.cause or 'the collector did not accept them'}")

    def _once(self, key: str, message: str) -> None:
        if key not in self._warned:
            self._warned.add(key)
            self._warn(message)
