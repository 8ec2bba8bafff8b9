"""Real servers for the plug-in's tests, on 127.0.0.1 and ephemeral ports, each on a thread
it owns (stopped and joined on exit)."""

from __future__ import annotations

import contextlib
import http.server
import socket
import socketserver
import threading
from types import TracebackType
from typing import Any


class _Tracking(socketserver.ThreadingMixIn):
    """Knows its open connections, so that closing it ends every handler thread (which
    ``server_close`` then joins) even while a client still holds its connection."""

    daemon_threads = False
    block_on_close = True
    allow_reuse_address = True

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.connections: set[socket.socket] = set()
        super().__init__(*args, **kwargs)

    def process_request(self, request: Any, client_address: Any) -> None:
        self.connections.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        self.connections.discard(request)
        super().shutdown_request(request)  # type: ignore[misc]

    def end_connections(self) -> None:
        for request in list(self.connections):
            with contextlib.suppress(OSError):
                request.shutdown(socket.SHUT_RDWR)


class _Threading(_Tracking, socketserver.TCPServer):
    pass


class _ThreadingHttp(_Tracking, http.server.HTTPServer):
    pass


class _Served:
    server: _Threading | _ThreadingHttp

    def __enter__(self) -> Any:
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.server.shutdown()
        self.server.end_connections()
        self.server.server_close()
        self._thread.join()

    @property
    def port(self) -> int:
        port: int = self.server.server_address[1]
        return port

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"


class _Echo(socketserver.BaseRequestHandler):
    def handle(self) -> None:
        while data := self.request.recv(65536):
            self.request.sendall(data)


class EchoServer(_Served):
    """Echoes every byte back until the client closes."""

    def __init__(self) -> None:
        self.server = _Threading(("127.0.0.1", 0), _Echo)


class StatusServer(_Served):
    """Answers every HTTP request with ``status`` and an empty body."""

    def __init__(self, status: int) -> None:
        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = _ThreadingHttp(("127.0.0.1", 0), Handler)
