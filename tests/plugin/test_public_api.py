"""The plug-in's public surface, and what importing it costs every pytest session."""

from __future__ import annotations

import subprocess
import sys
from importlib.metadata import entry_points

import faultlab.testing


def test_the_public_names_are_these_and_all_resolve() -> None:
    assert faultlab.testing.__all__ == [
        "ExperimentFailed", "FaultBlock", "FaultError", "FaultFactory", "FaultSpecError",
        "HasPid", "Proxy", "ProxyFactory", "ProxyServer", "RevertFailed", "TargetLike"]
    for name in faultlab.testing.__all__:
        assert getattr(faultlab.testing, name) is not None


def test_the_entry_point_names_the_plugin_module() -> None:
    [plugin] = [ep for ep in entry_points(group="pytest11") if ep.name == "faultlab"]
    assert plugin.value == "faultlab.testing.plugin"


def test_importing_the_plugin_imports_neither_pydantic_nor_aiohttp() -> None:
    code = ("import sys, faultlab.testing.plugin; "
            "print(sorted({'pydantic', 'aiohttp', 'faultlab.faults'} & set(sys.modules)))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    assert out.strip() == "[]"
