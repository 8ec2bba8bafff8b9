"""The package's public surface, locked, and the imports that keep start-up cheap."""

from __future__ import annotations

import inspect
import subprocess
import sys

import faultlab.proxy
from faultlab.proxy import ProxyClient, ProxyServerHandle, spawn_proxy_server


def test_all_is_locked() -> None:
    assert faultlab.proxy.__all__ == [
        "ProxyApiError",
        "ProxyClient",
        "ProxyInfo",
        "ProxyServerError",
        "ProxyServerHandle",
        "ProxyUnreachable",
        "ToxicInfo",
        "spawn_proxy_server",
        "stop_pid",
    ]
    for name in faultlab.proxy.__all__:
        assert getattr(faultlab.proxy, name).__name__ == name


def test_signatures_used_by_the_faults_and_the_runner() -> None:
    assert str(inspect.signature(ProxyClient.add_toxic)) == (
        "(self, proxy: 'str', type: 'str', attributes: 'Mapping[str, float]', "
        "stream: 'str' = 'downstream', toxicity: 'float' = 1.0, name: 'str | None' = None, "
        "ttl: 'float | None' = None) -> 'ToxicInfo'")
    assert str(inspect.signature(ProxyClient.set_enabled)) == (
        "(self, name: 'str', enabled: 'bool', ttl: 'float | None' = None) -> 'ProxyInfo'")
    assert list(inspect.signature(spawn_proxy_server).parameters)[:2] == ["log_path",
                                                                          "api_host"]
    assert {"pid", "api_url"} <= set(inspect.signature(ProxyServerHandle).parameters)


def test_the_cli_module_does_not_import_the_server() -> None:
    code = ("import sys, faultlab.proxy, faultlab.proxy.cli; "
            "print(sorted(m for m in ('aiohttp', 'faultlab.proxy.server', "
            "'faultlab.proxy.relay') if m in sys.modules))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            check=True, timeout=30)
    assert result.stdout.strip() == "[]"
