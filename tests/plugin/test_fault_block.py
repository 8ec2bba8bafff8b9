"""``faultlab_fault`` used directly (the plug-in is this session's, through its entry point):
validation as in experiment files, every target form, and the revert on every way out of a
block: normal exit, an exception, a failed inject, KeyboardInterrupt, cancellation."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import threading
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from types import FrameType
from typing import Any

import pytest

from faultlab.experiment import ExperimentError, load_experiment_text
from faultlab.hosts import ProcessId, local_host
from faultlab.testing import FaultError, FaultFactory, FaultSpecError, ProxyFactory, RevertFailed
from faultlab.testing.proxies import Proxy

from .servers import EchoServer


def toxics(proxy: Proxy) -> list[dict[str, Any]]:
    with urllib.request.urlopen(f"{proxy.server.api_url}/proxies/{proxy.name}") as response:
        found: list[dict[str, Any]] = json.load(response)["toxics"]
    return found


def wait_for(predicate: Callable[[], bool], what: str, timeout: float = 60) -> None:
    """Poll until ``predicate()``; the timeout only bounds a broken test, it judges nothing."""
    event = threading.Event()
    for _ in range(int(timeout / 0.01)):
        if predicate():
            return
        event.wait(0.01)
    raise AssertionError(f"gave up waiting for {what}")


def state_of(pid: int) -> str:
    """The process's state letter from /proc (T: stopped, Z: zombie)."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    return stat.rpartition(")")[2].split()[0]


@pytest.fixture
def proxy(echo_server: EchoServer, faultlab_proxy: ProxyFactory) -> Proxy:
    return faultlab_proxy(echo_server.address)


@pytest.fixture
def sleeper() -> Iterator[subprocess.Popen[bytes]]:
    proc = subprocess.Popen(["sleep", "1000"])
    try:
        yield proc
    finally:
        proc.kill()
        proc.wait()


class Files:
    """Files a command fault's inject and revert leave in a directory, to see what ran."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.state = root / "state"
        self.log = root / "log"

    def sh(self, script: str) -> list[str]:
        return ["sh", "-c", script]

    @property
    def inject(self) -> list[str]:
        return self.sh(f"touch {self.state}; echo inject >> {self.log}")

    @property
    def revert(self) -> list[str]:
        return self.sh(f"rm -f {self.state}; echo revert >> {self.log}")

    def ran(self) -> list[str]:
        return self.log.read_text().split() if self.log.exists() else []


@pytest.fixture
def files(tmp_path: Path) -> Files:
    return Files(tmp_path)


# --- validation ------------------------------------------------------------------------------

@pytest.mark.parametrize(("kind", "params", "key"), [
    ("latency", {"delay": 200}, "delay"),
    ("latncy", {"delay": "200ms"}, "kind"),
    ("latency", {"delay": "200ms", "dealy": "1ms"}, "dealy"),
    ("latency", {"delay": "1500us"}, "delay"),
    ("bandwidth", {"rate": "10/s"}, "rate"),
    ("pause", {}, "kind"),
])
def test_parameters_are_checked_as_in_experiment_files(
        faultlab_fault: FaultFactory, proxy: Proxy, kind: str, params: dict[str, Any],
        key: str) -> None:
    """The same mistake in an experiment file's fault entry gives the same message."""
    entry = {"kind": kind, "target": proxy.name, "duration": "1m", **params}
    text = json.dumps({"name": "pytest", "targets": {proxy.name: {"proxy": {
        "api": proxy.server.api_url, "name": proxy.name}}}, "faults": [entry]})
    with pytest.raises(ExperimentError) as in_file:
        load_experiment_text(text)
    [problem] = in_file.value.problems
    assert problem.path == f"faults[0].{key}"
    hint = f" (hint: {problem.hint})" if problem.hint else ""

    with pytest.raises(FaultSpecError) as caught:
        faultlab_fault(kind, proxy, **params)

    assert caught.value.problems == [f"{key}: {problem.message}{hint}"]
    assert str(caught.value) == f"faultlab_fault({kind!r}): {key}: {problem.message}{hint}"
    assert toxics(proxy) == []


@pytest.mark.parametrize(("params", "message"), [
    ({"delay": "1s", "duration": "5s"}, "duration: not a parameter here (the fault lasts as "
                                        "long as the block; lease= bounds it if the test "
                                        "process dies)"),
    ({"delay": "1s", "start": "1s"}, "start: not a parameter here (the fault is injected "
                                     "when the block is entered)"),
    ({"delay": "1s", "lease": "0s"}, "lease: must be above zero, e.g. 30s"),
    ({"delay": "1s", "revert_timeout": "5"}, "revert_timeout: '5'"),  # the units' message
])
def test_what_the_block_decides_is_not_a_parameter(
        faultlab_fault: FaultFactory, proxy: Proxy, params: dict[str, Any],
        message: str) -> None:
    with pytest.raises(FaultSpecError) as caught:
        faultlab_fault("latency", proxy, **params)
    [line] = caught.value.problems
    assert line.startswith(message)


def test_a_target_of_another_type_is_refused(faultlab_fault: FaultFactory) -> None:
    with pytest.raises(FaultSpecError, match=r"target: expected a Proxy from faultlab_proxy, "
                                             r"a pid, .* got float"):
        faultlab_fault("pause", 1.5)  # type: ignore[arg-type]


# --- the revert on every way out -------------------------------------------------------------

def test_the_toxic_is_there_for_the_block_only(faultlab_fault: FaultFactory,
                                               proxy: Proxy) -> None:
    block = faultlab_fault("latency", proxy, delay="100ms", jitter="10ms", stream="upstream")
    assert not block.active
    with block as entered:
        assert entered is block and block.active
        [toxic] = toxics(proxy)
        assert toxic["attributes"] == {"latency": 100, "jitter": 10}
        assert toxic["stream"] == "upstream"
        assert 0 < toxic["ttl_remaining"] <= 60, "the lease is the safety net"
    assert not block.active
    assert toxics(proxy) == []
    with pytest.raises(RuntimeError, match="is used once"), block:
        pass


async def test_a_block_may_be_reverted_before_it_ends(faultlab_fault: FaultFactory,
                                                     proxy: Proxy) -> None:
    async with faultlab_fault("slow_close", proxy, delay="10ms") as block:
        assert len(toxics(proxy)) == 1
        await block.arevert()
        assert toxics(proxy) == [] and not block.active
        await block.arevert()  # idempotent; so is leaving the block
    assert toxics(proxy) == []


def test_keyboard_interrupt_in_the_block_reverts_and_propagates(
        faultlab_fault: FaultFactory, proxy: Proxy) -> None:
    def interrupted() -> None:
        with faultlab_fault("down", proxy):
            assert toxics(proxy) == []  # down disables the proxy instead
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        interrupted()
    with urllib.request.urlopen(f"{proxy.server.api_url}/proxies/{proxy.name}") as r:
        assert json.load(r)["enabled"] is True


async def test_a_cancelled_async_block_reverts(faultlab_fault: FaultFactory,
                                               proxy: Proxy) -> None:
    entered = asyncio.Event()

    async def hold() -> None:
        async with faultlab_fault("bandwidth", proxy, rate="10KB/s"):
            entered.set()
            await asyncio.Event().wait()

    task = asyncio.create_task(hold())
    await entered.wait()
    assert [t["type"] for t in toxics(proxy)] == ["bandwidth"]
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert toxics(proxy) == []


async def test_cancelling_an_async_revert_does_not_stop_it(faultlab_fault: FaultFactory,
                                                           files: Files) -> None:
    reverting, go = files.root / "reverting", files.root / "go"
    slow_revert = files.sh(f"touch {reverting}; while [ ! -e {go} ]; do sleep 0.01; done; "
                           f"rm -f {files.state}; echo revert >> {files.log}")
    block = faultlab_fault("command", inject=files.inject, revert=slow_revert,
                           revert_timeout="60s")

    async def use() -> None:
        async with block:
            pass

    task = asyncio.create_task(use())
    await asyncio.to_thread(wait_for, reverting.exists, "the revert to start")
    task.cancel()
    await asyncio.sleep(0)  # the cancellation reaches the task while it reverts
    go.touch()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert files.ran() == ["inject", "revert"] and not files.state.exists()


class Interrupter:
    """Sends this process SIGINT once ``trigger`` exists, and creates ``release`` only after
    the main thread has taken the interrupt: a deterministic Ctrl-C in mid-step."""

    def __init__(self, trigger: Path, release: Path | None = None) -> None:
        self.trigger, self.release = trigger, release
        self.taken = threading.Event()
        self._thread = threading.Thread(target=self._run)

    def _run(self) -> None:
        wait_for(self.trigger.exists, str(self.trigger))
        os.kill(os.getpid(), signal.SIGINT)
        self.taken.wait()
        if self.release is not None:
            self.release.touch()

    def _on_sigint(self, signum: int, frame: FrameType | None) -> None:
        self.taken.set()
        raise KeyboardInterrupt

    def __enter__(self) -> Interrupter:
        self._old = signal.signal(signal.SIGINT, self._on_sigint)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._thread.join()
        signal.signal(signal.SIGINT, self._old)


def test_ctrl_c_during_a_sync_revert_waits_for_it(faultlab_fault: FaultFactory,
                                                  files: Files) -> None:
    reverting, go = files.root / "reverting", files.root / "go"
    slow_revert = files.sh(f"touch {reverting}; while [ ! -e {go} ]; do sleep 0.01; done; "
                           f"rm -f {files.state}; echo revert >> {files.log}")
    block = faultlab_fault("command", inject=files.inject, revert=slow_revert,
                           revert_timeout="60s")
    with Interrupter(reverting, release=go), pytest.raises(KeyboardInterrupt), block:
        pass
    assert files.ran() == ["inject", "revert"] and not files.state.exists()


def test_ctrl_c_during_the_inject_stops_it_and_reverts(faultlab_fault: FaultFactory,
                                                       files: Files) -> None:
    injecting = files.root / "injecting"
    hanging = files.sh(f"touch {files.state} {injecting}; exec sleep 1000")
    block = faultlab_fault("command", inject=hanging, revert=files.revert)
    with Interrupter(injecting), pytest.raises(KeyboardInterrupt), block:
        pytest.fail("the block ran although its inject never finished")
    assert files.ran() == ["revert"] and not files.state.exists()


def test_a_failed_inject_is_reverted_and_raised(faultlab_fault: FaultFactory,
                                                files: Files) -> None:
    failing = files.sh(f"touch {files.state}; exit 3")
    block = faultlab_fault("command", inject=failing, revert=files.revert)
    with pytest.raises(FaultError, match=r"fault 'command-local' could not be applied: "
                                         r"inject command .* exited 3"), block:
        pytest.fail("the block ran although its fault was not applied")
    assert files.ran() == ["revert"] and not files.state.exists()


def test_a_failed_revert_is_raised_over_the_blocks_own_error(faultlab_fault: FaultFactory,
                                                             files: Files) -> None:
    expected = (r"REVERT FAILED for fault 'command-local': revert command 'false' exited 1; "
                r"the fault may still be active \(its lease, 1m.* from its injection")
    block = faultlab_fault("command", inject=files.inject, revert="false")
    with pytest.raises(RevertFailed, match=expected) as caught, block:
        raise ValueError("the test's own failure")
    assert isinstance(caught.value.__context__, ValueError)


# --- targets and kinds -----------------------------------------------------------------------

def test_a_command_fault_has_a_keeper_for_its_lease(faultlab_fault: FaultFactory,
                                                    files: Files) -> None:
    host = local_host()
    with faultlab_fault("command", inject=files.inject, revert=files.revert) as block:
        assert files.state.exists()
        assert block.fault is not None and block.fault.undo is not None
        keeper = ProcessId.from_json(block.fault.undo.params["keeper"])
        assert host.is_alive(keeper)
    assert not host.is_alive(keeper), "the revert stopped the keeper"
    assert files.ran() == ["inject", "revert"]


def test_pause_a_process_by_pid_or_process_object(faultlab_fault: FaultFactory,
                                                  sleeper: subprocess.Popen[bytes]) -> None:
    for target in (sleeper.pid, sleeper):
        with faultlab_fault("pause", target):
            wait_for(lambda: state_of(sleeper.pid) == "T", "the process to stop")
        wait_for(lambda: state_of(sleeper.pid) != "T", "the process to resume")
    assert sleeper.poll() is None


def test_kill_processes_by_name(faultlab_fault: FaultFactory, tmp_path: Path) -> None:
    name = f"victim-{os.getpid()}-{tmp_path.name}"[:15]
    proc = subprocess.Popen([name, "1000"], executable="sleep")
    try:
        with faultlab_fault("kill", {"process": {"name": name}}, signal="SIGTERM"):
            assert proc.wait() == -signal.SIGTERM
    finally:
        proc.kill()
        proc.wait()


def test_a_proxy_given_by_api_and_name(faultlab_fault: FaultFactory, proxy: Proxy) -> None:
    target = {"proxy": {"api": proxy.server.api_url, "name": proxy.name}}
    with faultlab_fault("http_abort", target, status=502, name="abort"):
        [toxic] = toxics(proxy)
        assert toxic["name"] == "faultlab-abort" and toxic["attributes"]["status"] == 502
    assert toxics(proxy) == []


def test_a_block_that_outlives_its_lease_warns(faultlab_fault: FaultFactory,
                                               proxy: Proxy) -> None:
    with pytest.warns(UserWarning, match="was active longer than its lease"), \
            faultlab_fault("latency", proxy, delay="10ms", lease="200ms"):
        wait_for(lambda: toxics(proxy) == [], "the proxy server to end the lease")
