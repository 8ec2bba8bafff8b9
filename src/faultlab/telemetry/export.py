"""Spans out over OTLP/HTTP (protobuf): the OpenTelemetry SDK, imported only when needed.

A run's tree (:mod:`faultlab.telemetry.tree`) becomes SDK spans with their journaled start
and end times, collected in memory and exported in one request, from a daemon thread the
run awaits for at most :attr:`OtlpConfig.deadline`; so an absent, slow or refusing collector
costs a run at most that long, and shows as one warning line on stderr (once per process),
never as a failed run. The SDK's own log lines (one per retry) are kept off stderr.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import threading
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING

from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import SERVICE_NAME, Resource
from opentelemetry.sdk.trace import ReadableSpan, SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult
from opentelemetry.trace import Status, StatusCode
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from faultlab import __version__
from faultlab.telemetry.config import OtlpConfig, warn_once
from faultlab.telemetry.tree import SpanPlan

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import Span

__all__ = ["ReportingExporter", "SdkLogs", "export_plan", "exporter", "parent_context",
           "resource", "spans_of"]

SCOPE = "faultlab"


class SdkLogs(logging.Handler):
    """Keeps the SDK's log records (its retries, its failures) off stderr; remembers the
    first failure's cause, for the one warning faultlab prints instead."""

    cause: str | None = None
    _installed: SdkLogs | None = None

    def emit(self, record: logging.LogRecord) -> None:
        if record.levelno < logging.WARNING or SdkLogs.cause is not None:
            return
        with contextlib.suppress(Exception):
            # "Transient error %s encountered ...", "Failed to export ... reason: %s"
            args = record.args if isinstance(record.args, tuple) else ()
            errors = [a for a in args if isinstance(a, BaseException)]
            SdkLogs.cause = _short(str(errors[0]) if errors else record.getMessage())

    @classmethod
    def install(cls) -> None:
        if cls._installed is None:
            cls._installed = cls()
            logger = logging.getLogger("opentelemetry")
            logger.addHandler(cls._installed)
            logger.propagate = False


def resource(default_service: str) -> Resource:
    """OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES (the SDK reads them); the service is
    ``default_service`` when neither names one."""
    base = Resource.create({"service.version": __version__})
    name = base.attributes.get(SERVICE_NAME)
    if not isinstance(name, str) or name.startswith("unknown_service"):
        base = base.merge(Resource({SERVICE_NAME: default_service}))
    return base


def exporter(config: OtlpConfig) -> OTLPSpanExporter:
    SdkLogs.install()
    return OTLPSpanExporter(endpoint=config.endpoint, timeout=config.timeout)


def parent_context(environ: Mapping[str, str] | None = None) -> Context | None:
    """The context of a parent span given as ``TRACEPARENT`` (and ``TRACESTATE``) in the
    environment, the convention of CI systems; None if unset or invalid."""
    env = os.environ if environ is None else environ
    value = env.get("TRACEPARENT", "").strip()
    if not value:
        return None
    carrier = {"traceparent": value}
    if env.get("TRACESTATE"):
        carrier["tracestate"] = env["TRACESTATE"]
    ctx = TraceContextTextMapPropagator().extract(carrier)
    if not trace.get_current_span(ctx).get_span_context().is_valid:
        warn_once(f"TRACEPARENT={value!r} is not a W3C traceparent; the run's trace starts "
                  "a trace of its own (hint: 00-<32 hex>-<16 hex>-01)")
        return None
    return ctx


class _Collect(SpanProcessor):
    def __init__(self) -> None:
        self.spans: list[ReadableSpan] = []

    def on_end(self, span: ReadableSpan) -> None:
        self.spans.append(span)


def _short(text: str, size: int = 160) -> str:
    if "connection refused" in text.lower():
        return "connection refused"
    text = " ".join(text.split())
    return text if len(text) <= size else text[:size - 3] + "..."


def _ns(seconds: float) -> int:
    return int(seconds * 1e9)


def _emit(tracer: trace.Tracer, plan: SpanPlan, parent: Context | None) -> None:
    span: Span = tracer.start_span(plan.name, context=parent, start_time=_ns(plan.start),
                                   attributes=plan.attributes)  # type: ignore[assignment]
    for event in plan.events:
        span.add_event(event.name, event.attributes, timestamp=_ns(event.at))
    if plan.error is not None:
        span.set_status(Status(StatusCode.ERROR, plan.error))
    context = trace.set_span_in_context(span, parent)
    for child in plan.children:
        _emit(tracer, child, context)
    span.end(end_time=_ns(plan.end))


def spans_of(plan: SpanPlan, service: str = "faultlab",
             parent: Context | None = None) -> list[ReadableSpan]:
    """The SDK spans of a tree (the sampler from OTEL_TRACES_SAMPLER decides, as always)."""
    collect = _Collect()
    provider = TracerProvider(resource=resource(service), shutdown_on_exit=False)
    provider.add_span_processor(collect)
    _emit(provider.get_tracer(SCOPE, __version__), plan, parent)
    return collect.spans


def _describe(result: SpanExportResult | BaseException | None) -> str:
    if isinstance(result, BaseException):
        return f"{type(result).__name__}: {result}"
    return SdkLogs.cause or "the collector did not accept them"


async def export_plan(plan: SpanPlan, config: OtlpConfig,
                      make_exporter: Callable[[OtlpConfig], SpanExporter] = exporter) -> bool:
    """Export the tree; True if the collector took it. Never raises (but cancellation)."""
    try:
        spans = spans_of(plan, parent=parent_context())
        if not spans:  # sampled out
            return True
        span_exporter = make_exporter(config)
    except Exception as e:  # a bug here must not touch the run's outcome
        warn_once(f"no trace exported: {type(e).__name__}: {e}", "trace")
        return False
    loop = asyncio.get_running_loop()
    done: asyncio.Future[SpanExportResult | BaseException] = loop.create_future()

    def send() -> None:
        result: SpanExportResult | BaseException
        try:
            result = span_exporter.export(spans)
        except Exception as e:
            result = e
        finally:
            with contextlib.suppress(Exception):
                span_exporter.shutdown()
        with contextlib.suppress(RuntimeError):  # the loop is gone: nobody waits
            loop.call_soon_threadsafe(_settle, done, result)

    # A daemon thread, not the loop's executor: a collector that hangs past the deadline
    # must not hold the process's exit either.
    threading.Thread(target=send, name="faultlab-otlp-export", daemon=True).start()
    try:
        result = await asyncio.wait_for(asyncio.shield(done), config.deadline)
    except TimeoutError:
        result = TimeoutError(f"no answer within {config.deadline:g}s")
    if result is SpanExportResult.SUCCESS:
        return True
    warn_once(f"the run's trace was not exported to {config.endpoint}: "
              f"{_describe(result)} (hint: is an OTLP/HTTP collector listening there? "
              "unset OTEL_EXPORTER_OTLP_ENDPOINT to export nothing)", "trace")
    return False


def _settle(future: asyncio.Future[SpanExportResult | BaseException],
            result: SpanExportResult | BaseException) -> None:
    if not future.done():
        future.set_result(result)


class ReportingExporter(SpanExporter):
    """An exporter that reports its failures; once ``closing`` (the server stopping),
    batches after a failed one are dropped at once, so a collector that is gone costs one
    export's timeout, not one per batch."""

    def __init__(self, inner: SpanExporter, failed: Callable[[], None]) -> None:
        self._inner = inner
        self._report = failed
        self.closing = False
        self._failing = False

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        if self.closing and self._failing:
            return SpanExportResult.FAILURE
        result = self._inner.export(spans)
        self._failing = result is not SpanExportResult.SUCCESS
        if self._failing:
            self._report()
        return result

    def shutdown(self) -> None:
        self._inner.shutdown()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return self._inner.force_flush(timeout_millis)
