"""The demo tests' slow proxy: it delays what upstream sends, and stops cleanly with
connections open (every task it started ends inside it; nothing is left for asyncio to log)."""

from __future__ import annotations

import logging
import socket
import time

import pytest

from .slowproxy import SlowProxy

HOLD = 20.0  # longer than stop() may take (10 s): waiting it out would fail the test


def test_stop_with_open_connections_cancels_every_relay_quietly(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG, logger="asyncio")
    with socket.create_server(("127.0.0.1", 0)) as upstream:
        proxy = SlowProxy(upstream.getsockname()[1], delay=HOLD).start()
        clients = [socket.create_connection(("127.0.0.1", proxy.port), timeout=5)
                   for _ in range(3)]
        accepted = [upstream.accept()[0] for _ in clients]
        try:
            for c, a in zip(clients, accepted, strict=True):
                c.sendall(b"ping")
                assert a.recv(4) == b"ping"  # the request direction is not delayed
                a.sendall(b"pong")  # held back: in flight when the proxy stops
            proxy.stop()  # cancels the held answers (waiting them out would raise)
            for c in clients:
                assert c.recv(4) == b""  # each relay closed its client end
        finally:
            for s in (*clients, *accepted):
                s.close()
    assert proxy.connections == 3
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING] == []


def test_delay_holds_each_answer_back() -> None:
    with socket.create_server(("127.0.0.1", 0)) as upstream:
        proxy = SlowProxy(upstream.getsockname()[1], delay=0.3).start()
        try:
            with socket.create_connection(("127.0.0.1", proxy.port), timeout=5) as c:
                a, _ = upstream.accept()
                with a:
                    sent = time.monotonic()
                    a.sendall(b"pong")
                    assert c.recv(4) == b"pong"
                    assert time.monotonic() - sent >= 0.3  # a lower bound: load only adds
        finally:
            proxy.stop()
