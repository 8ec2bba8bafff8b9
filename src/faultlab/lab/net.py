"""The kernel objects of a lab: network namespaces, veth pairs, one bridge, addresses.

Everything is made by iproute2 in batch mode (one ``ip`` process for the machine's side, one
per host), so a lab of a few hosts comes up in milliseconds. Removal is idempotent and
forgiving (``ip -force``: what is already gone is skipped), and it first ends every process
still inside a lab namespace, whoever started it, so nothing of the lab outlives it.
"""

from __future__ import annotations

import contextlib
import ipaddress
import json
import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

from faultlab.lab.state import LabState

__all__ = ["NETNS_DIR", "NetError", "create", "destroy", "netns_inode", "processes_in",
           "used_networks"]

NETNS_DIR = Path("/run/netns")
#: per-namespace files that `ip netns exec` bind-mounts over /etc (the hosts file)
ETC_NETNS = Path("/etc/netns")


class NetError(Exception):
    """A kernel object could not be made."""


def _ip(args: list[str], batch: str, *, force: bool = False) -> None:
    argv = ["ip", *args, *(["-force"] if force else []), "-batch", "-"]
    try:
        proc = subprocess.run(argv, input=batch, capture_output=True, text=True, timeout=30)
    except FileNotFoundError:
        raise NetError("the `ip` command is missing (install Debian's iproute2)") from None
    except subprocess.TimeoutExpired:
        raise NetError("`ip` did not finish within 30s") from None
    if proc.returncode != 0 and not force:
        raise NetError((proc.stderr.strip() or proc.stdout.strip()).replace("\n", " | "))


def used_networks() -> list[ipaddress.IPv4Network]:
    """The IPv4 networks on this machine's interfaces and routes (a lab must not overlap)."""
    nets: list[ipaddress.IPv4Network] = []
    for args in (["-j", "-4", "addr", "show"], ["-j", "-4", "route", "show", "table", "all"]):
        try:
            out = subprocess.run(["ip", *args], capture_output=True, text=True, timeout=10)
            items = json.loads(out.stdout or "[]")
        except (OSError, subprocess.TimeoutExpired, ValueError):
            continue
        for item in items:
            for info in item.get("addr_info", []):
                if info.get("local") and info.get("prefixlen") is not None:
                    nets.append(ipaddress.IPv4Network(
                        f"{info['local']}/{info['prefixlen']}", strict=False))
            dst = item.get("dst")
            if dst and dst != "default":
                with contextlib.suppress(ValueError):
                    nets.append(ipaddress.IPv4Network(dst, strict=False))
    return nets


def hosts_file(state: LabState) -> str:
    lines = ["127.0.0.1\tlocalhost", "::1\tlocalhost ip6-localhost ip6-loopback"]
    lines += [f"{h.address}\t{h.name}" for h in state.hosts]
    return "\n".join(lines) + "\n"


def create(state: LabState) -> None:
    """Make the lab's namespaces, bridge and links; raises NetError (the caller destroys)."""
    plen = state.prefixlen
    machine = [f"netns add {h.netns}" for h in state.hosts]
    machine += [f"link add {state.bridge} type bridge",
                f"addr add {state.bridge_address}/{plen} dev {state.bridge}",
                f"link set {state.bridge} up"]
    for h in state.hosts:
        machine += [f"link add {h.veth} type veth peer name eth0 netns {h.netns}",
                    f"link set {h.veth} master {state.bridge} up"]
    _ip([], "\n".join(machine) + "\n")
    text = hosts_file(state)
    for h in state.hosts:
        _ip(["-n", h.netns], f"link set lo up\naddr add {h.address}/{plen} dev eth0\n"
                             "link set eth0 up\n")
        etc = ETC_NETNS / h.netns
        etc.mkdir(parents=True, exist_ok=True)
        (etc / "hosts").write_text(text)


def netns_inode(netns: str) -> int | None:
    try:
        return os.stat(NETNS_DIR / netns).st_ino
    except OSError:
        return None


def processes_in(inode: int) -> list[int]:
    """Pids of the processes whose network namespace is ``inode``."""
    me = os.getpid()
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit() and int(entry) != me:
            try:
                if os.stat(f"/proc/{entry}/ns/net").st_ino == inode:
                    found.append(int(entry))
            except OSError:
                continue
    return found


def _end_processes(state: LabState, grace: float) -> None:
    inodes = [i for h in state.hosts if (i := netns_inode(h.netns)) is not None]
    if not inodes:
        return
    deadline = time.monotonic() + grace
    sig = signal.SIGTERM
    while True:
        pids = [p for i in inodes for p in processes_in(i)]
        if not pids:
            return
        for pid in pids:
            for s in (signal.SIGCONT, sig):  # a paused process would never handle SIGTERM
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.kill(pid, s)
        if time.monotonic() >= deadline:
            sig = signal.SIGKILL
        time.sleep(0.02)
        if sig is signal.SIGKILL and time.monotonic() >= deadline + 5:
            return  # unkillable (D state): the namespace goes when it ends


def destroy(state: LabState, grace: float = 2.0) -> None:
    """Remove everything of the lab that exists; never raises for what is already gone."""
    _end_processes(state, grace)
    batch = [f"link del {h.veth}" for h in state.hosts]
    batch.append(f"link del {state.bridge}")
    batch += [f"netns del {h.netns}" for h in state.hosts
              if (NETNS_DIR / h.netns).exists()]
    _ip([], "\n".join(batch) + "\n", force=True)
    for h in state.hosts:
        shutil.rmtree(ETC_NETNS / h.netns, ignore_errors=True)


def leftovers(state: LabState) -> list[str]:
    """What of the lab still exists in the kernel (should be nothing after destroy)."""
    left = [f"netns {h.netns}" for h in state.hosts if (NETNS_DIR / h.netns).exists()]
    links = {state.bridge, *(h.veth for h in state.hosts)}
    left += [f"link {name}" for name in sorted(links) if Path(f"/sys/class/net/{name}").exists()]
    return left
