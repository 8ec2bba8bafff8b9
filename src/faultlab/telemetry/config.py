"""Whether traces are exported, and where: the standard OpenTelemetry variables only.

Nothing here imports OpenTelemetry: :func:`from_env` is what a run and the proxy server ask
first, and when it answers None (no OTLP endpoint set) neither imports the SDK at all.

Read: ``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`` (the URL as given) or
``OTEL_EXPORTER_OTLP_ENDPOINT`` (a base URL; ``/v1/traces`` is appended), the protocol from
``OTEL_EXPORTER_OTLP_TRACES_PROTOCOL`` or ``OTEL_EXPORTER_OTLP_PROTOCOL`` (only
``http/protobuf``, the default, is exported; another one is refused with a warning), and
``OTEL_SDK_DISABLED`` / ``OTEL_TRACES_EXPORTER=none``, which turn exporting off. Headers,
timeouts, ``OTEL_SERVICE_NAME`` and ``OTEL_RESOURCE_ATTRIBUTES`` are read by the SDK itself
when it builds the exporter and the resource.
"""

from __future__ import annotations

import contextlib
import os
import sys
import threading
from collections.abc import Mapping

import msgspec

__all__ = ["DEFAULT_TIMEOUT", "OtlpConfig", "from_env", "warn_once"]

PROTOCOL = "http/protobuf"
# Seconds for one export (its retries included) when no OTEL_EXPORTER_OTLP_*TIMEOUT is set:
# the SDK's own default (10 s) would let an absent collector hold a run's end for ~7 s.
DEFAULT_TIMEOUT = 3.0


class OtlpConfig(msgspec.Struct, frozen=True):
    endpoint: str  # the full traces URL (…/v1/traces)
    timeout: float | None  # None: the SDK reads OTEL_EXPORTER_OTLP_(TRACES_)TIMEOUT

    @property
    def deadline(self) -> float:
        """Seconds after which an export still under way is given up (the exporter's own
        timeout, plus a margin for a slow name lookup, which no HTTP timeout covers)."""
        return (self.timeout if self.timeout is not None else 10.0) + 2.0


def from_env(environ: Mapping[str, str] | None = None) -> OtlpConfig | None:
    """The exporter's settings, or None when no trace is to be exported (a warning is
    printed once for a protocol faultlab does not export)."""
    env = os.environ if environ is None else environ
    traces = env.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "").strip()
    base = env.get("OTEL_EXPORTER_OTLP_ENDPOINT", "").strip()
    if not traces and not base:
        return None
    if env.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return None
    if env.get("OTEL_TRACES_EXPORTER", "otlp").strip().lower() == "none":
        return None
    protocol_var = ("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL"
                    if env.get("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL") else
                    "OTEL_EXPORTER_OTLP_PROTOCOL")
    protocol = env.get(protocol_var, "").strip() or PROTOCOL
    if protocol != PROTOCOL:
        warn_once(f"{protocol_var}={protocol}: faultlab exports traces over {PROTOCOL} "
                  "only; no trace is exported (hint: set it to http/protobuf and point the "
                  "endpoint at the collector's OTLP/HTTP port, 4318 by default)")
        return None
    endpoint = traces or base.rstrip("/") + "/v1/traces"
    timeout_set = env.get("OTEL_EXPORTER_OTLP_TRACES_TIMEOUT") or env.get(
        "OTEL_EXPORTER_OTLP_TIMEOUT")
    return OtlpConfig(endpoint, None if timeout_set else DEFAULT_TIMEOUT)


_warned: set[str] = set()
_lock = threading.Lock()


def warn_once(message: str, key: str | None = None) -> bool:
    """Print ``faultlab: warning: message`` on stderr, once per process for each ``key``
    (the message itself by default). Returns whether it was printed."""
    with _lock:
        if (key or message) in _warned:
            return False
        _warned.add(key or message)
    with contextlib.suppress(OSError, ValueError):  # a closed stderr never takes a run down
        print(f"faultlab: warning: {message}", file=sys.stderr, flush=True)
    return True
