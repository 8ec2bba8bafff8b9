"""The lease watchdog of a lab network fault: ``python -m faultlab.lab.netfaults.watchdog
PLAN`` (PLAN is JSON), started detached (own session) by the fault's ``prepare()``.

It outlives the runner. When the lease lapses (at once on SIGTERM/SIGINT, or when its proxy
has ended, which would leave connections steered to nothing) it removes the
fault's nft tables and qdiscs, exactly as the undo does (:func:`.kernel.remove_objects`),
stops the proxy it runs for a ``net_latency`` fault (a child in its process group), and
exits. A normal revert removes the objects itself and then kills the watchdog's whole
process group (the proxy with it), so a proxy never outlives its fault's lease.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

__all__ = ["main"]

#: how long the watchdog keeps trying to remove what a failed attempt left
RETRY_FOR = 30.0


def _start_proxy(plan: dict[str, Any]) -> subprocess.Popen[bytes] | None:
    proxy, directory = plan.get("proxy"), plan.get("dir")
    if not proxy or not directory:
        return None
    folder = Path(directory)
    config = folder / "proxy.json"
    config.write_text(json.dumps(proxy["config"]))
    with open(folder / "proxy.log", "ab") as log:
        # the same process group as the watchdog: killing the group stops both
        return subprocess.Popen(
            [sys.executable, "-m", "faultlab.proxy", "serve", "--api", "127.0.0.1:0",
             "--config", str(config), "--ready-file", str(folder / "ready"),
             "--instance-id", str(proxy["instance"])],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=log)


def _stop(child: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError):
        child.terminate()
    try:
        child.wait(5)
    except subprocess.TimeoutExpired:
        child.kill()
        child.wait()


def _remove(plan: dict[str, Any]) -> bool:
    """Remove the fault's objects, retrying for a while (a busy machine); whether it did."""
    from faultlab.lab.netfaults.kernel import HostObjects, remove_objects

    objects = [HostObjects.from_json(o) for o in plan.get("objects", [])]
    deadline = time.monotonic() + RETRY_FOR
    while True:
        try:
            asyncio.run(remove_objects(str(plan["lab"]), objects))
            return True
        except Exception:
            if time.monotonic() >= deadline:
                return False
            time.sleep(1.0)


def main(argv: list[str]) -> int:
    plan = json.loads(argv[0])
    deadline = time.monotonic() + float(plan["lease"])
    child = _start_proxy(plan)  # before the mask: a child inherits it
    signals = {signal.SIGTERM, signal.SIGINT}
    signal.pthread_sigmask(signal.SIG_BLOCK, signals)
    # import now, so that the removal at the lease does not wait for imports
    import faultlab.lab.netfaults.kernel  # noqa: F401

    while (left := deadline - time.monotonic()) > 0:
        # a proxy that ended would leave connections steered to nothing: end the fault
        if child is not None and child.poll() is not None:
            break
        if signal.sigtimedwait(signals, left if child is None else min(left, 0.1)):
            break
    ok = _remove(plan)
    if child is not None:
        _stop(child)
    if plan.get("dir"):
        shutil.rmtree(plan["dir"], ignore_errors=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
