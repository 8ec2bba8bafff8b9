"""Start-up stays light: `faultlab --help` and the proxy server's modules import nothing of
OpenTelemetry (the SDK loads only when an OTLP endpoint is set)."""

from __future__ import annotations

import subprocess
import sys
import textwrap

from .conftest import otel_env

_PROBE = textwrap.dedent("""
    import contextlib, io, sys
    sys.argv = ["faultlab", "--help"]
    from faultlab.cli import main
    import faultlab.proxy.server, faultlab.run.runner, faultlab.telemetry.proxy
    with contextlib.redirect_stdout(io.StringIO()) as out, contextlib.suppress(SystemExit):
        main()
    assert "run" in out.getvalue()
    print(sorted(m for m in sys.modules if m.startswith("opentelemetry")))
""")


def test_help_and_the_proxy_modules_import_no_opentelemetry() -> None:
    done = subprocess.run([sys.executable, "-c", _PROBE], capture_output=True, text=True,
                          timeout=60, env=otel_env("http://127.0.0.1:4318"))
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"
