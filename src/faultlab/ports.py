"""Choosing local ports for things faultlab starts (demo services, proxies in tests)."""

from __future__ import annotations

import random
import socket
from pathlib import Path

__all__ = ["free_ports"]


def free_ports(n: int, rng: random.Random | None = None) -> list[int]:
    """``n`` distinct ports that are free now, chosen *below* the kernel's ephemeral range:
    a port from that range could be taken by some client connection's local end between
    now and the moment a demo service or proxy binds it."""
    rng = rng or random.Random()
    low = _ephemeral_low()
    chosen: list[int] = []
    while len(chosen) < n:
        port = rng.randrange(max(1024, low - 12000), low)
        if port in chosen:
            continue
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
        chosen.append(port)
    return chosen


def _ephemeral_low() -> int:
    try:
        return int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768
