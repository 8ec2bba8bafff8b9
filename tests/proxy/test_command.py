"""``faultlab proxy serve`` and ``python -m faultlab.proxy serve`` as real processes: the
ready line, the options, what start-up imports, and a log that is JSON lines only."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import typer.main
from typer.testing import CliRunner

from faultlab.proxy.cli import app
from faultlab.proxy.command import OPTIONS, parser

SERVE = [sys.executable, "-m", "faultlab.proxy", "serve"]


class Served:
    def __init__(self, process: subprocess.Popen[str], address: str) -> None:
        self.process = process
        self.address = address
        self.stdout = ""
        self.stderr = ""


@contextmanager
def serving(tmp_path: Path, *arguments: str) -> Iterator[Served]:
    """A server process and its API address, once its ready file exists; stopped (and
    its output collected) after."""
    ready = tmp_path / "ready"
    process = subprocess.Popen([*SERVE, "--api", "127.0.0.1:0", "--ready-file", str(ready),
                                *arguments], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True)
    served = Served(process, "")
    try:
        deadline = time.monotonic() + 30  # a hang guard, not a timing assertion
        while not ready.exists():
            assert process.poll() is None, process.communicate()
            assert time.monotonic() < deadline, "the server never became ready"
            time.sleep(0.01)
        served.address = ready.read_text()
        yield served
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
        served.stdout, served.stderr = process.communicate(timeout=30)


def test_both_front_ends_take_the_same_options() -> None:
    command = typer.main.get_command(app)
    serve_command = command.commands["serve"]  # type: ignore[attr-defined]
    typer_flags = {opt for param in serve_command.params for opt in param.opts}
    serve_parser = next(action for action in parser("x")._actions
                        if action.dest == "command").choices["serve"]  # type: ignore[index]
    argparse_flags = {opt for action in serve_parser._actions for opt in action.option_strings}
    assert typer_flags == {option.flag for option in OPTIONS.values()}
    assert argparse_flags - {"-h", "--help"} == typer_flags


def test_one_ready_line_with_the_api_address(tmp_path: Path) -> None:
    with serving(tmp_path, "--instance-id", "ci-run-1") as served:
        pass
    assert served.stdout == (f"faultlab proxy API ready at http://{served.address} "
                             f"(instance ci-run-1, pid {served.process.pid})\n")


def test_start_up_imports_no_cli_or_metrics_machinery(tmp_path: Path) -> None:
    """typer builds a pydantic adapter per option and was most of the start-up; the
    runner's path (python -m) must not load it, nor prometheus_client before a scrape."""
    ready = tmp_path / "ready"
    process = subprocess.Popen([sys.executable, "-X", "importtime", *SERVE[1:], "--api",
                                "127.0.0.1:0", "--ready-file", str(ready)],
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 30
    while not ready.exists():
        assert process.poll() is None and time.monotonic() < deadline
        time.sleep(0.01)
    process.send_signal(signal.SIGTERM)
    _, stderr = process.communicate(timeout=30)
    imported = {line.split("|")[-1].strip() for line in stderr.splitlines()
                if line.startswith("import time:")}
    assert "aiohttp.web" in imported  # the measurement did see the server's imports
    assert not {"typer", "pydantic", "click", "prometheus_client", "rich"} & imported


def test_aiohttp_skips_the_ca_store_only_in_the_server_process() -> None:
    code = """if True:
        import ssl
        from faultlab.proxy.command import _without_ca_store
        with _without_ca_store():
            import aiohttp.connector
        print(aiohttp.connector._SSL_CONTEXT_VERIFIED.cert_store_stats()["x509_ca"],
              ssl.create_default_context().cert_store_stats()["x509_ca"] > 0)
        with _without_ca_store():  # aiohttp already loaded: nothing to do
            pass
        print(ssl.create_default_context().cert_store_stats()["x509_ca"] > 0)
    """
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            check=True, timeout=60)
    lines = result.stdout.split("\n")
    if lines[0].split()[1] == "False":
        pytest.skip("this machine has no CA store to skip")
    assert lines[:2] == ["0 True", "True"]


@pytest.mark.parametrize(("arguments", "environment", "message"), [
    (["--token", " "], {}, "API token must be"),
    (["--token", "two words"], {}, "API token must be"),
    ([], {"FAULTLAB_PROXY_TOKEN": " "}, "API token must be"),
    (["--instance-id", "a b"], {}, "instance id 'a b': use 1 to 128"),
])
def test_unusable_tokens_and_ids_are_refused(arguments: list[str], environment: dict[str, str],
                                             message: str) -> None:
    env = {**os.environ, **environment}
    result = subprocess.run([*SERVE, "--api", "127.0.0.1:0", *arguments], capture_output=True,
                            text=True, timeout=60, env=env, check=False)
    assert result.returncode == 2
    failure = json.loads(result.stderr.splitlines()[-1])
    assert failure["event"] == "startup_failed"
    assert message in failure["error"]


def test_the_typer_front_end_refuses_them_too() -> None:
    result = CliRunner().invoke(app, ["serve", "--api", "127.0.0.1:0", "--token", " "])
    assert result.exit_code == 2
    result = CliRunner().invoke(app, ["serve", "--api", "127.0.0.1:0", "--seed", "\u0661"])
    assert result.exit_code == 2
    assert "not an integer" in result.output


def test_seeds_are_ascii_integers() -> None:
    result = subprocess.run([*SERVE, "--api", "127.0.0.1:0", "--seed", "\u0661\u0662"],
                            capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 2
    assert "--seed" in result.stderr


MALFORMED = [b"GARBAGE\r\n\r\n", b"GET / HTTP/1.1\r\nContent-Length: -1\r\n\r\n",
             b"GET /version HTTP/1.1\r\nX: " + b"a" * 100_000 + b"\r\n\r\n",
             b"GET /version HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
             b"GET /\x00 HTTP/1.1\r\n\r\n", b"GET /version HTTP/1.1\r\nX: \x00\r\n\r\n",
             b"POST /proxies HTTP/1.1\r\nContent-Length: 99999999999\r\n\r\n"]


def test_the_log_is_json_lines_only(tmp_path: Path) -> None:
    """aiohttp logged "Error handling request" with a multi-line traceback into it."""
    with serving(tmp_path) as served:
        host, _, port = served.address.rpartition(":")
        for request in MALFORMED:
            with socket.create_connection((host, int(port)), timeout=10) as sock:
                sock.sendall(request)
                sock.shutdown(socket.SHUT_WR)
                while sock.recv(65536):
                    pass
    records = [json.loads(line) for line in served.stderr.splitlines()]  # all JSON
    logged = [r for r in records if r["event"] == "log"]
    assert logged and all(r["logger"].startswith("aiohttp") for r in logged)
    assert any("BadHttpMessage" in r.get("error", "") for r in logged)
    assert records[-1]["event"] == "stopped"
