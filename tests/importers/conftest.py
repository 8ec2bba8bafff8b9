"""A real service on 127.0.0.1 (its own process) that a converted experiment probes, breaks
and fixes; and helpers to convert Chaos Toolkit experiments written as Python values."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from faultlab.canvas.importers.common import Text
from faultlab.importers import Conversion, Options, import_chaostoolkit
from faultlab.ports import free_ports

TOKEN = "s3cret-token"


@dataclass
class Service:
    url: str
    proc: subprocess.Popen[bytes]

    def post(self, path: str, token: str = TOKEN) -> int:
        request = urllib.request.Request(self.url + path, data=b"", method="POST",
                                         headers={"X-Token": token})
        with urllib.request.urlopen(request, timeout=5) as response:
            return int(response.status)

    def state(self) -> dict[str, Any]:
        with urllib.request.urlopen(self.url + "/state", timeout=5) as response:
            data: dict[str, Any] = json.loads(response.read())
            return data


@pytest.fixture(scope="module")
def running_service() -> Iterator[Service]:
    (port,) = free_ports(1)
    proc = subprocess.Popen([sys.executable, str(Path(__file__).with_name("ctk_service.py")),
                             str(port), TOKEN], stdout=subprocess.DEVNULL)
    svc = Service(f"http://127.0.0.1:{port}", proc)
    try:
        for _ in range(300):  # ready when it answers (at most 30 s on a busy machine)
            try:
                svc.state()
                break
            except (urllib.error.URLError, OSError):
                if proc.poll() is not None:
                    raise RuntimeError("the test service exited") from None
                time.sleep(0.1)
        else:
            raise RuntimeError("the test service never answered")
        yield svc
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture
def service(running_service: Service) -> Service:
    """The module's service, healthy again at the start of each test."""
    running_service.post("/fix")
    return running_service


#: quick timings for the tests: polls every 250 ms, 1 s of steady state, a 2 s check window
FAST = Options(every=0.25, steady_for=1, check_for=2, python=sys.executable)


def convert(experiment: dict[str, Any], options: Options = FAST,
            name: str = "experiment.json") -> Conversion:
    return import_chaostoolkit(Text(json.dumps(experiment), name), options)


def paths(conv: Conversion) -> set[str]:
    from faultlab.importers.chaostoolkit import dotted

    return {dotted(p) for p, _ in conv.unconverted}
