"""Labs with a small agent in every host, and probes run from inside the hosts.

Each lab has a unique name per test session (pid and a counter: a second run on the machine
never collides) and is removed after its test, also when it fails; the session ends by
checking that nothing of it is left (namespaces, faultlab tables, watchdogs). The agent in
each host listens on TCP (reads each connection to its end; lines ``S <monotonic time>``
are logged as one-way delays, the machine having one clock) and on UDP (each datagram is
logged). Probes connect from inside each host to every other, all pairs at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from faultlab.experiment.targets import Target
from faultlab.faults import BoundTarget, Fault, FaultContext, build_fault
from faultlab.faults.registry import FAULT_KINDS
from faultlab.lab.control import lab_down, lab_up
from faultlab.lab.host import LabHost
from faultlab.lab.net import NETNS_DIR
from faultlab.lab.spec import LabSpec
from faultlab.lab.state import LabState

PREFIX = f"nf{os.getpid()}x"
_count = itertools.count()
TCP_PORT, UDP_PORT = 7100, 7101

AGENT = r"""
import socket, sys, threading, time
addr, tport, uport, log = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
out = open(log, "a", buffering=1)
lock = threading.Lock()
def write(line):
    with lock:
        out.write(line + "\n")
t = socket.socket(); t.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
t.bind((addr, tport)); t.listen(512)
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); u.bind((addr, uport))
u.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 22)
def serve(c):
    buf = b""
    with c:
        while data := c.recv(1 << 16):
            now = time.monotonic()
            buf += data
            *lines, buf = buf.split(b"\n")
            for line in lines:
                if line.startswith(b"S "):
                    write(f"delay {now - float(line[2:])}")
            buf = buf[-200:]
def accept():
    while True:
        c, peer = t.accept()
        write(f"peer {peer[0]}")
        threading.Thread(target=serve, args=(c,), daemon=True).start()
threading.Thread(target=accept, daemon=True).start()
open(log + ".ready", "w").close()
while True:
    data, _ = u.recvfrom(2048)
    write("udp " + data.decode())
"""

PROBE = r"""
import json, socket, sys, concurrent.futures as cf
plan = json.loads(sys.argv[1])
def tcp(item):
    name, addr = item
    try:
        socket.create_connection((addr, plan["port"]), timeout=plan["timeout"]).close()
        return name, True
    except OSError:
        return name, False
with cf.ThreadPoolExecutor(64) as ex:
    ok = dict(ex.map(tcp, plan["tcp"]))
print(json.dumps(ok))
"""

UDP_SEND = r"""
import socket, sys, time
addr, port, tag, count = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4])
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
for i in range(count):
    s.sendto(f"{tag} {i}".encode(), (addr, port))
    time.sleep(0.001)
"""


def lab_name() -> str:
    return f"{PREFIX}{next(_count)}"


def tables(state: LabState) -> dict[str, list[str]]:
    """Each host's faultlab nft tables."""
    out = {}
    for h in state.hosts:
        if not (NETNS_DIR / h.netns).exists():
            continue
        proc = subprocess.run(["ip", "netns", "exec", h.netns, "nft", "-j", "list", "tables"],
                              capture_output=True, text=True, timeout=30)
        items = json.loads(proc.stdout or '{"nftables": []}')["nftables"]
        names = [i["table"]["name"] for i in items if "table" in i
                 and i["table"]["name"].startswith("faultlab_")]
        if names:
            out[h.name] = names
    return out


def qdiscs(state: LabState) -> dict[str, str]:
    out = {}
    for h in state.hosts:
        proc = subprocess.run(["ip", "netns", "exec", h.netns, "tc", "-j", "qdisc", "show",
                               "dev", "eth0"], capture_output=True, text=True, timeout=30)
        kinds = [q["kind"] for q in json.loads(proc.stdout or "[]") if q.get("root")]
        if kinds and kinds != ["noqueue"]:
            out[h.name] = kinds[0]
    return out


def watchdogs(marker: str = "faultlab.lab.netfaults.watchdog") -> list[int]:
    """Pids of the watchdogs of this session's labs."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                argv = Path(f"/proc/{entry}/cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            if marker.encode() in argv and any(PREFIX.encode() in a for a in argv):
                found.append(int(entry))
    return found


def wait_for(predicate: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"timed out after {timeout}s waiting for {what}"
        time.sleep(0.05)


@dataclass
class Cluster:
    state: LabState
    logs: Path
    agents: list[subprocess.Popen[bytes]] = field(default_factory=list)

    @property
    def names(self) -> list[str]:
        return [h.name for h in self.state.hosts]

    def address(self, host: str) -> str:
        h = self.state.host(host)
        assert h is not None
        return h.address

    def inside(self, host: str, *argv: str) -> list[str]:
        h = self.state.host(host)
        assert h is not None
        return ["ip", "netns", "exec", h.netns, *argv]

    def start_agents(self) -> None:
        for h in self.state.hosts:
            log = self.logs / f"{h.name}.log"
            self.agents.append(subprocess.Popen(
                self.inside(h.name, sys.executable, "-c", AGENT, h.address, str(TCP_PORT),
                            str(UDP_PORT), str(log)), stdin=subprocess.DEVNULL))
        for h in self.state.hosts:
            wait_for(lambda h=h: (self.logs / f"{h.name}.log.ready").exists(), 60,  # type: ignore[misc]
                     f"the agent in {h.name}")

    def stop_agents(self) -> None:
        for a in self.agents:
            a.kill()
            a.wait()

    def _probe(self, pairs: list[tuple[str, str]], timeout: float) -> set[tuple[str, str]]:
        by_src: dict[str, list[list[str]]] = {}
        for src, dst in pairs:
            by_src.setdefault(src, []).append([dst, self.address(dst)])
        procs = {src: subprocess.Popen(self.inside(src, sys.executable, "-c", PROBE, json.dumps(
            {"tcp": items, "port": TCP_PORT, "timeout": timeout})), stdout=subprocess.PIPE,
            text=True) for src, items in by_src.items()}
        ok = set()
        for src, proc in procs.items():
            out, _ = proc.communicate(timeout=timeout + 120)
            ok |= {(src, dst) for dst, good in json.loads(out).items() if good}
        return ok

    def tcp_reachable(self) -> set[tuple[str, str]]:
        """The (client, server) pairs whose TCP connection succeeds, tried from inside the
        hosts, all at once. A pair that failed is tried again with a longer timeout, so a
        busy machine never turns a slow handshake into a cut; a cut pair fails every try."""
        pairs = [(a, b) for a in self.names for b in self.names if a != b]
        ok = self._probe(pairs, 1.5)
        failed = [p for p in pairs if p not in ok]
        return ok | (self._probe(failed, 4.0) if failed else set())

    def send_udp(self, src: str, dst: str, count: int) -> None:
        subprocess.run(self.inside(src, sys.executable, "-c", UDP_SEND, self.address(dst),
                                   str(UDP_PORT), f"{src}->{dst}", str(count)),
                       check=True, timeout=120)

    def lines(self, host: str, prefix: str) -> list[str]:
        path = self.logs / f"{host}.log"
        text = path.read_text() if path.exists() else ""
        return [ln for ln in text.splitlines() if ln.startswith(prefix)]

    def udp_received(self, src: str, dst: str) -> int:
        return len(self.lines(dst, f"udp {src}->{dst} "))

    def delays(self, host: str) -> list[float]:
        return [float(ln.split()[1]) for ln in self.lines(host, "delay ")]

    def fault(self, spec: dict[str, Any], *, seed: int = 1, grace: float = 30.0
              ) -> Fault[Any]:
        """A fault of ``spec`` on this lab's hosts (targets named as the hosts)."""
        targets = {n: BoundTarget(n, Target(host=n), LabHost(n, self.state.name, n))
                   for n in self.names}
        ctx = FaultContext(targets, None, {}, 30.0, grace, random.Random(seed))
        kind = FAULT_KINDS[spec["kind"]]
        return build_fault(kind.spec.model_validate({"duration": "10s", **spec}), ctx)


def run(coro: Any) -> Any:
    return asyncio.run(coro)


@pytest.fixture
def make_cluster(tmp_path: Path) -> Iterator[Callable[..., Cluster]]:
    """``make_cluster(n)``: a lab of n hosts (n1..), an agent in each; removed after the
    test whatever happens, and checked to be gone."""
    made: list[Cluster] = []

    def make(n: int = 3) -> Cluster:
        name = lab_name()
        logs = tmp_path / name
        logs.mkdir()
        state = asyncio.run(lab_up(LabSpec(name=name, hosts={f"n{i}": {}
                                                             for i in range(1, n + 1)})))
        cluster = Cluster(state, logs)
        made.append(cluster)
        cluster.start_agents()
        return cluster

    try:
        yield make
    finally:
        for c in made:
            c.stop_agents()
            # a test that failed before its revert leaves its fault's watchdog: SIGTERM makes
            # it remove what it guards and exit (so it cannot trouble the next test)
            for pid in watchdogs():
                with contextlib.suppress(OSError):
                    if c.state.name.encode() in Path(f"/proc/{pid}/cmdline").read_bytes():
                        os.kill(pid, signal.SIGTERM)
            lab_down(c.state.name)
        for c in made:
            assert not [h for h in c.state.hosts if (NETNS_DIR / h.netns).exists()]


@pytest.fixture(scope="session", autouse=True)
def _nothing_left() -> Iterator[None]:
    yield
    if os.geteuid() != 0:
        return
    left = sorted(p.name for p in NETNS_DIR.glob(f"fl-{PREFIX}*")) if NETNS_DIR.is_dir() else []
    assert not left, f"namespaces left: {left}"
    wait_for(lambda: not watchdogs(), 60, "this session's watchdogs to end")


class Kit:
    """The helpers, for tests (which import nothing from here: --import-mode=importlib)."""

    run = staticmethod(run)
    tables = staticmethod(tables)
    qdiscs = staticmethod(qdiscs)
    wait_for = staticmethod(wait_for)
    watchdogs = staticmethod(watchdogs)
    prefix = PREFIX
    tcp_port = TCP_PORT


@pytest.fixture
def kit() -> type[Kit]:
    return Kit
