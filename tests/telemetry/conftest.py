"""A real OTLP/HTTP receiver for the tests: an aiohttp server on 127.0.0.1 that accepts
``POST /v1/traces`` (protobuf), decodes each ``ExportTraceServiceRequest`` with
opentelemetry-proto and keeps its spans; and the experiment files the runs use."""

from __future__ import annotations

import asyncio
import gzip
import os
import sys
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue

from faultlab.ports import free_ports

STATUS_ERROR = 2  # opentelemetry.proto.trace.v1.Status.STATUS_CODE_ERROR


def _value(v: AnyValue) -> Any:
    which = v.WhichOneof("value")
    if which == "array_value":
        return [_value(x) for x in v.array_value.values]
    return getattr(v, which) if which else None


@dataclass
class Span:
    name: str
    trace_id: str
    span_id: str
    parent_span_id: str
    start_ns: int
    end_ns: int
    attributes: dict[str, Any]
    status_code: int
    status_message: str
    resource: dict[str, Any]
    events: list[str] = field(default_factory=list)

    @property
    def error(self) -> bool:
        return self.status_code == STATUS_ERROR


class Receiver:
    def __init__(self) -> None:
        self.spans: list[Span] = []
        self.posts = 0
        self.content_types: list[str] = []
        self.arrived = asyncio.Event()
        self.url = ""
        self._runner: web.AppRunner | None = None

    async def start(self) -> Receiver:
        app = web.Application()
        app.router.add_post("/v1/traces", self._traces)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = self._runner.addresses[0][1]
        self.url = f"http://127.0.0.1:{port}"
        return self

    async def close(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    async def _traces(self, request: web.Request) -> web.Response:
        body = await request.read()
        if request.headers.get("Content-Encoding") == "gzip":
            body = gzip.decompress(body)
        self.posts += 1
        self.content_types.append(request.headers.get("Content-Type", ""))
        message = ExportTraceServiceRequest()
        message.ParseFromString(body)
        for rs in message.resource_spans:
            resource = {a.key: _value(a.value) for a in rs.resource.attributes}
            for ss in rs.scope_spans:
                for s in ss.spans:
                    self.spans.append(Span(
                        s.name, s.trace_id.hex(), s.span_id.hex(), s.parent_span_id.hex(),
                        s.start_time_unix_nano, s.end_time_unix_nano,
                        {a.key: _value(a.value) for a in s.attributes}, s.status.code,
                        s.status.message, resource, [e.name for e in s.events]))
        self.arrived.set()
        return web.Response(body=ExportTraceServiceResponse().SerializeToString(),
                            content_type="application/x-protobuf")

    def named(self, prefix: str) -> list[Span]:
        return [s for s in self.spans if s.name.startswith(prefix)]

    def one(self, prefix: str) -> Span:
        found = self.named(prefix)
        assert len(found) == 1, (prefix, [s.name for s in self.spans])
        return found[0]

    def children(self, parent: Span) -> list[Span]:
        return [s for s in self.spans if s.parent_span_id == parent.span_id
                and s.trace_id == parent.trace_id]


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    r = await Receiver().start()
    try:
        yield r
    finally:
        await r.close()


def otel_env(endpoint: str | None, **extra: str) -> dict[str, str]:
    """This process's environment without any OTEL_*/TRACEPARENT variable of the machine's,
    plus ``endpoint`` as OTEL_EXPORTER_OTLP_ENDPOINT (None: exporting off)."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("OTEL_") and k not in ("TRACEPARENT", "TRACESTATE")}
    if endpoint is not None:
        env["OTEL_EXPORTER_OTLP_ENDPOINT"] = endpoint
    env.update(extra)
    return env


# A web server behind a proxy, light load (a fresh traceparent per request), one latency
# fault: a run of about 4 s.
EXPERIMENT = """
name: traced
system:
  services:
    web:
      command: ["{python}", -m, http.server, "{web}", --bind, 127.0.0.1]
      ready: {{http: "http://127.0.0.1:{web}/", timeout: 15s}}
targets:
  web-link:
    proxy: {{listen: "127.0.0.1:{proxy}", upstream: "127.0.0.1:{web}"}}
workload:
  http: {{url: "http://127.0.0.1:{proxy}/", rate: 10/s, timeout: 1s, traceparent: true}}
warmup: 0s
slos:
  - {{name: served, success_ratio: 50%, window: 1s}}
hypothesis:
  before: {{hold: [served], for: 1s}}
  during: {{hold: [served]}}
  after: {{observe: 1s}}
"""

# One latency fault, reverted after a second.
LATENCY = """
faults:
  - {name: slow-web, target: web-link, kind: latency, delay: 5ms, start: 0s, duration: 1s}
"""

# The proxy down for long, and an abort as soon as requests fail: aborted mid-fault.
ABORTED = """
faults:
  - {name: web-down, target: web-link, kind: down, start: 0s, duration: 20s}
abort:
  - {success_ratio_below: 50%, for: 1s}
"""


def write_experiment(tmp_path: Path, tail: str = LATENCY) -> Path:
    web, proxy = free_ports(2)
    path = tmp_path / "traced.yaml"
    path.write_text(EXPERIMENT.format(python=sys.executable, web=web, proxy=proxy) + tail)
    return path


async def run_cli(experiment: Path, run_dir: Path, env: Mapping[str, str]
                  ) -> tuple[int, str, str]:
    """``faultlab run`` in a real subprocess; (exit code, stdout, stderr)."""
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "faultlab", "run", str(experiment), "--quiet", "--run-dir",
        str(run_dir), env=dict(env), stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    try:
        out, err = await asyncio.wait_for(process.communicate(), 150)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()
