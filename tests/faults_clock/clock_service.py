"""A service that answers each TCP connection with its wall clock (``time.time()``), then
closes it. Python reads the wall clock through libc's clock_gettime, which libfaketime
intercepts. No sleeps: under libfaketime 0.9.10, ``time.sleep`` fails (see docs/clock.md)."""

import contextlib
import socket
import sys
import time


def main() -> None:
    server = socket.socket()
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server.bind(("127.0.0.1", int(sys.argv[1])))
    server.listen(64)
    while True:
        conn, _ = server.accept()
        with conn, contextlib.suppress(OSError):
            conn.sendall(repr(time.time()).encode())


if __name__ == "__main__":
    main()
