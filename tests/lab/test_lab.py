"""The lab: hosts as network namespaces on a bridge, up and down, from the API and the CLI."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from faultlab.lab.control import LabError, lab_down, lab_up, list_labs
from faultlab.lab.host import LabHost
from faultlab.lab.net import NETNS_DIR
from faultlab.lab.spec import LabSpec
from faultlab.lab.state import LabState, lab_dir, read_state

from .conftest import in_host, lab_name, leftovers, write

MakeLab = Callable[..., LabState]

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="labs need root")


def faultlab(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "faultlab", *args], capture_output=True,
                          text=True, timeout=120)


def can_connect(state: LabState, src: str, address: str, port: int) -> bool:
    code = ("import socket,sys\n"
            "s=socket.socket(); s.settimeout(5)\n"
            f"sys.exit(s.connect_ex(({address!r},{port})))\n")
    return subprocess.run(in_host(state, src, sys.executable, "-c", code),
                          timeout=30).returncode == 0


def test_hosts_have_their_addresses_and_reach_each_other(make_lab: MakeLab, tmp_path: Path) -> None:
    state = make_lab(3)
    assert [h.address.rsplit(".", 1)[1] for h in state.hosts] == ["1", "2", "3"]
    assert state.bridge_address.endswith(".254")
    # a listener in n2; n1 and n3 connect to it by address; the machine too, via the bridge
    server = subprocess.Popen(in_host(state, "n2", sys.executable, "-m", "http.server",
                                      "--bind", state.hosts[1].address, "8080"),
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 30
        while not can_connect(state, "n1", state.hosts[1].address, 8080):
            assert time.monotonic() < deadline, "the listener in n2 never answered"
        assert can_connect(state, "n3", state.hosts[1].address, 8080)
        with socket.create_connection((state.hosts[1].address, 8080), timeout=5):
            pass
    finally:
        server.kill()
        server.wait()
    # names resolve inside through the lab's hosts file, loopback is up, each host is alone
    out = subprocess.run(in_host(state, "n1", sys.executable, "-c",
                                 "import socket; print(socket.gethostbyname('n3'))"),
                         capture_output=True, text=True, timeout=30)
    assert out.stdout.strip() == state.hosts[2].address
    addrs = subprocess.run(in_host(state, "n1", "ip", "-j", "-4", "addr"), capture_output=True,
                           text=True, timeout=30).stdout
    assert {a["local"] for i in json.loads(addrs) for a in i["addr_info"]} == {
        "127.0.0.1", state.hosts[0].address}


def test_down_removes_everything_and_is_idempotent(make_lab: MakeLab) -> None:
    state = make_lab(2)
    assert {h.netns for h in state.hosts} <= {p.name for p in NETNS_DIR.iterdir()}
    # a process someone started inside a host (not the lab) is ended too
    stray = subprocess.Popen(in_host(state, "n1", "sleep", "300"))
    try:
        assert "removed" in lab_down(state.name)
        assert stray.wait(timeout=30) is not None
    finally:
        stray.kill()
    assert not any((NETNS_DIR / h.netns).exists() for h in state.hosts)
    assert not Path(f"/sys/class/net/{state.bridge}").exists()
    assert not any(Path(f"/sys/class/net/{h.veth}").exists() for h in state.hosts)
    assert not lab_dir(state.name).exists()
    assert "nothing to remove" in lab_down(state.name)


def test_two_labs_coexist_and_names_and_subnets_are_unique(make_lab: MakeLab) -> None:
    a = make_lab(2)
    b = make_lab(2)
    assert a.subnet != b.subnet and a.bridge != b.bridge
    with pytest.raises(LabError, match="already up"):
        asyncio.run(lab_up(LabSpec(name=a.name, hosts={"x": {}})))
    with pytest.raises(LabError, match="overlaps"):
        asyncio.run(lab_up(LabSpec(name=lab_name(), subnet=a.subnet, hosts={"x": {}})))
    names = {lab.name for lab in list_labs()}
    assert {a.name, b.name} <= names


def test_processes_start_inside_with_the_name_map_and_logs(make_lab: MakeLab) -> None:
    code = ("import os,socket,time\n"
            "print('env', os.environ['FAULTLAB_HOST'], os.environ['FAULTLAB_ADDR_N2'], "
            "open(os.environ['FAULTLAB_HOSTS_FILE']).read().count('n2'), flush=True)\n"
            "s=socket.socket(); s.bind((os.environ['FAULTLAB_ADDRESS'], 7000)); s.listen()\n"
            "time.sleep(600)\n")
    state0 = make_lab({"n1": {}, "n2": {}}, name=lab_name("probe"))
    lab_down(state0.name)  # learn a free subnet: the next lab takes the same one
    ready = f"{state0.hosts[0].address}:7000"
    state = make_lab({"n1": {"processes": {"srv": {"command": [sys.executable, "-c", code],
                                                   "ready": {"tcp": ready}}}},
                      "n2": {}}, subnet=state0.subnet)
    (proc,) = state.processes
    log = Path(proc.log).read_text()
    assert f"env n1 {state.hosts[1].address} 1" in log
    host = LabHost("n1", state.name, "n1")
    assert [p.pid for p in host.processes()] == [proc.pid]
    assert host.find_by_name(Path(sys.executable).name) == host.processes()
    assert LabHost("n2", state.name, "n2").find_by_name(Path(sys.executable).name) == []
    summary = next(s for s in list_labs() if s.name == state.name)
    assert (summary.processes, summary.running) == (1, 1)


def test_a_process_that_never_gets_ready_leaves_nothing(tmp_path: Path) -> None:
    name = lab_name("fail")
    spec = LabSpec(name=name, hosts={"n1": {"processes": {"bad": {
        "command": [sys.executable, "-c", "import sys; print('boom'); sys.exit(3)"],
        "ready": {"command": ["sh", "-c", "exit 1"], "timeout": "60s"}}}}})
    try:
        with pytest.raises(LabError, match="exited with code 3 before it was ready"):
            asyncio.run(lab_up(spec))
        assert read_state(name) is None and not leftovers()
    finally:
        lab_down(name)  # if lab_up wrongly succeeded


def test_lab_host_runs_commands_inside_and_knows_when_gone(make_lab: MakeLab) -> None:
    state = make_lab(2)
    host = LabHost("n2", state.name, "n2")
    result = asyncio.run(host.run(["ip", "-4", "-br", "addr", "show", "eth0"], timeout=30))
    assert state.hosts[1].address in result.stdout
    env = asyncio.run(host.run(["sh", "-c", "echo $FAULTLAB_HOST"], timeout=30))
    assert env.stdout.strip() == "n2"
    lab_down(state.name)
    assert not host.exists()
    from faultlab.hosts import HostError, host_from_ref

    rebuilt = host_from_ref(host.ref())
    assert isinstance(rebuilt, LabHost) and rebuilt.ref() == host.ref()
    with pytest.raises(HostError, match=r"has no host|gone"):
        asyncio.run(rebuilt.run(["true"], timeout=30))


def test_cli_up_ls_down(tmp_path: Path) -> None:
    name = lab_name("cli")
    file = write(tmp_path / "lab.yaml", f"name: {name}\nhosts:\n  a: {{}}\n  b: {{}}\n")
    try:
        up = faultlab("lab", "up", str(file))
        assert up.returncode == 0, up.stderr
        assert f"lab '{name}' up" in up.stdout and "fl-" in up.stdout
        ls = faultlab("lab", "ls", "--json")
        mine = [lab for lab in json.loads(ls.stdout) if lab["name"] == name]
        assert mine and set(mine[0]["hosts"]) == {"a", "b"} and mine[0]["status"] == "up"
        again = faultlab("lab", "up", str(file))
        assert again.returncode == 4 and "already up" in again.stderr
    finally:
        down = faultlab("lab", "down", name)
    assert down.returncode == 0 and "removed" in down.stdout
    assert "nothing to remove" in faultlab("lab", "down", name).stdout


@pytest.mark.parametrize(("text", "expect"), [
    ("name: x\nhosts: {}\n", "lab.yaml:2:8: hosts: "),
    ("name: x\nsubnet: 10.0.0.0/24\nhosts: {a: {}}\n", "lab.yaml:2:9: subnet: 10.0.0.0/24 is "
     "outside 198.18.0.0/15"),
    ("name: x\nsubnet: 198.18.1.0/29\nhosts: {a: {}, b: {}, c: {}, d: {}, e: {}, f: {}}\n",
     "lab.yaml:2:9: subnet: subnet 198.18.1.0/29 has 5 host addresses, the lab needs 6"),
    ("name: x\nhosts: {local: {}}\n", "'local' is this machine"),
    ("name: x\nhosts:\n  a: {processes: {p: {comand: x}}}\n",
     "lab.yaml:3:22: hosts.a.processes.p.command: missing required key 'command'"),
    ("name: x\nhosts: {a: {}}\nsubnet: ${net}.0/24\n", "lab.yaml:3:9: subnet"),
])
def test_cli_bad_lab_files_are_one_located_line_each(tmp_path: Path, text: str,
                                                     expect: str) -> None:
    file = write(tmp_path / "lab.yaml", text)
    out = faultlab("lab", "up", str(file))
    assert out.returncode == 2
    assert expect in out.stderr, out.stderr
    assert "Traceback" not in out.stderr
    assert read_state("x") is None


def test_lab_up_killed_midway_is_removed_by_lab_down(tmp_path: Path) -> None:
    """SIGKILL of `faultlab lab up` while a process is getting ready: the state on disk
    names everything, and `faultlab lab down` removes it (the process inside too)."""
    name = lab_name("killed")
    file = write(tmp_path / "lab.yaml", f"""name: {name}
hosts:
  a:
    processes:
      slow: {{command: [sleep, "600"], ready: {{command: [sh, -c, "exit 1"], timeout: 600s}}}}
  b: {{}}
""")
    proc = subprocess.Popen([sys.executable, "-m", "faultlab", "lab", "up", str(file)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while True:
            state = read_state(name) if lab_dir(name).exists() else None
            if state is not None and state.processes:
                break
            assert time.monotonic() < deadline, "lab up never started its process"
            time.sleep(0.05)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
        assert (NETNS_DIR / state.hosts[0].netns).exists()
        down = faultlab("lab", "down", name)
        assert down.returncode == 0 and "removed" in down.stdout, down.stderr
        assert read_state(name) is None and not leftovers()
        from faultlab.hosts.local import start_time

        assert start_time(state.processes[0].pid) != state.processes[0].started
    finally:
        proc.kill()
        lab_down(name)
