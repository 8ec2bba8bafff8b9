"""The aiohttp sessions faultlab's workloads send through: one request is one attempt.

aiohttp (3.10 and later) silently retries an idempotent request (GET, PUT, ...) once on a
new connection when its persistent connection drops. For a load generator and a history
client that hides exactly what a fault does: a reset looks like success (or, worse, a write
that may have been applied is reported as "cannot connect", a definite failure). faultlab
turns that retry off, so what a client saw is what is recorded.
"""

from __future__ import annotations

from typing import Any

import aiohttp

__all__ = ["single_attempt_session"]


def single_attempt_session(**kwargs: Any) -> aiohttp.ClientSession:
    session = aiohttp.ClientSession(**kwargs)
    if hasattr(session, "_retry_connection"):  # aiohttp >= 3.10; no public switch yet
        session._retry_connection = False
    return session
