"""A fault kind from a third-party package, registered only through the ``faultlab.faults``
entry point, runs end to end: validate, run (inject, revert), SIGINT, recover after SIGKILL.
No faultlab module knows it.

The package is a real distribution on disk (a module plus a ``.dist-info`` with its entry
points) put on the subprocess's PYTHONPATH, which is how an installed plug-in is found."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from .conftest import journal, wait_for

PLUGIN = '''
"""A test plug-in: the "marker" fault writes a file on the target host; its undo removes it."""
from __future__ import annotations

from typing import Any, ClassVar, Literal

from faultlab.faults import Fault, FaultKind, FaultSpec, Undo, UndoAction, UndoEnv


class MarkerSpec(FaultSpec):
    """Write ``path`` while the fault is active."""

    target_kinds: ClassVar[frozenset[str]] = frozenset({"host"})
    default_target: ClassVar[str | None] = "local"
    kind: Literal["marker"]
    path: str


class MarkerFault(Fault[MarkerSpec]):
    async def prepare(self) -> Undo:
        self.undo = Undo("marker_remove", {"path": self.spec.path}, host=self.target.host.ref())
        return self.undo

    async def inject(self) -> None:
        await self.target.host.run(["sh", "-c", f"echo on > {self.spec.path}"], timeout=10)


async def _remove(params: dict[str, Any], env: UndoEnv) -> str:
    await env.host.run(["rm", "-f", params["path"]], timeout=10)
    return f"removed {params['path']}"


KIND = FaultKind("marker", MarkerSpec, MarkerFault, (UndoAction("marker_remove", _remove),))
'''


@pytest.fixture
def plugin_env(tmp_path: Path) -> dict[str, str]:
    site = tmp_path / "site"
    (site / "marker_plugin").mkdir(parents=True)
    (site / "marker_plugin" / "__init__.py").write_text(PLUGIN)
    info = site / "marker_plugin-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: marker-plugin\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text("[faultlab.faults]\nmarker = marker_plugin:KIND\n")
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(site), env.get("PYTHONPATH", "")])
    return env


def _experiment(tmp_path: Path, flag: Path, duration: str) -> Path:
    path = tmp_path / "plugin.yaml"
    path.write_text(textwrap.dedent(f"""\
        version: 1
        name: plugin-kind
        faults:
          - {{name: mark, kind: marker, path: "{flag}", duration: {duration}}}
        revert: {{lease_grace: 60s}}
        """))
    return path


def _faultlab(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "faultlab", *args], env=env,
                          capture_output=True, text=True, timeout=120, check=False)


def test_validate_and_run_a_plugin_kind(tmp_path: Path, plugin_env: dict[str, str]) -> None:
    flag = tmp_path / "flag"
    exp = _experiment(tmp_path, flag, "1s")
    checked = _faultlab(plugin_env, "validate", str(exp))
    assert checked.returncode == 0, checked.stderr
    run_dir = tmp_path / "run"
    ran = _faultlab(plugin_env, "run", str(exp), "--run-dir", str(run_dir), "-q")
    assert ran.returncode == 0, ran.stdout + ran.stderr
    events = [e["event"] for e in journal(run_dir)]
    assert events.count("fault_injected") == 1 and events.count("fault_reverted") == 1
    assert not flag.exists()


def test_unknown_kind_without_the_plugin_is_a_located_error(tmp_path: Path) -> None:
    exp = _experiment(tmp_path, tmp_path / "flag", "1s")
    checked = subprocess.run([sys.executable, "-m", "faultlab", "validate", str(exp)],
                             capture_output=True, text=True, timeout=60, check=False)
    assert checked.returncode == 2
    assert f"{exp}:4:" in checked.stderr and "unknown fault kind 'marker'" in checked.stderr


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGKILL])
def test_plugin_fault_reverted_on_sigint_and_by_recover(tmp_path: Path,
                                                        plugin_env: dict[str, str],
                                                        sig: signal.Signals) -> None:
    flag = tmp_path / "flag"
    exp = _experiment(tmp_path, flag, "120s")
    run_dir = tmp_path / "run"
    proc = subprocess.Popen([sys.executable, "-m", "faultlab", "run", str(exp), "--run-dir",
                             str(run_dir), "-q"], env=plugin_env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    try:
        wait_for(lambda: any(e["event"] == "fault_injected" for e in journal(run_dir)), 60,
                 "the plug-in fault to be injected")
        assert flag.exists()
        proc.send_signal(sig)
        proc.wait(60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    if sig is signal.SIGINT:
        assert proc.returncode == 3
        assert not flag.exists()
        return
    assert flag.exists()  # SIGKILL: nothing reverted it yet
    recovered = _faultlab(plugin_env, "recover", str(run_dir))
    assert recovered.returncode == 0, recovered.stdout + recovered.stderr
    assert "removed" in recovered.stdout
    assert not flag.exists()
    again = _faultlab(plugin_env, "recover", str(run_dir))
    assert again.returncode == 0 and "nothing was active" in again.stdout
