"""JSON over HTTP for history clients (the demo KV store, etcd's v3 gateway).

One connection per client, because a client is one logical process. The mapping of
outcomes is what makes histories sound: a refused connection means the request was never
sent (``Definite``: fail); a timeout, a dropped connection, a 5xx or an unreadable answer
leave the effect unknown (``Indefinite``: info); a 4xx is the server's refusal (``Definite``).
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import aiohttp
from aiohttp.http_exceptions import HttpProcessingError

from faultlab.workload.clients.base import Definite, Indefinite, check_timeout, close_quietly
from faultlab.workload.session import single_attempt_session

__all__ = ["JsonHttp"]


class JsonHttp:
    def __init__(self, host: str, port: int, timeout: float) -> None:
        self.base = f"http://{'[' + host + ']' if ':' in host else host}:{port}"
        self.timeout = check_timeout(timeout)
        self._session: aiohttp.ClientSession | None = None

    async def close(self) -> None:
        if self._session is not None:
            session, self._session = self._session, None
            await close_quietly(session.close(), self.timeout)

    async def call(self, method: str, path: str, body: object) -> dict[str, Any]:
        """One request; the JSON object answered, or Definite / Indefinite."""
        if self._session is None:
            # No automatic timeouts (ours applies to the whole exchange), no cookies.
            self._session = single_attempt_session(
                connector=aiohttp.TCPConnector(limit=1),
                cookie_jar=aiohttp.DummyCookieJar(),
                timeout=aiohttp.ClientTimeout(total=None))
        try:
            async with asyncio.timeout(self.timeout), self._session.request(
                    method, self.base + path, json=body, allow_redirects=False) as resp:
                status, text = resp.status, await resp.text()
        except TimeoutError:
            raise Indefinite(f"no answer within {self.timeout:g}s") from None
        except aiohttp.ClientConnectorError as exc:
            raise Definite(f"cannot connect: {exc.os_error}") from None
        except (aiohttp.ClientError, OSError, HttpProcessingError) as exc:
            raise Indefinite(f"connection lost: {type(exc).__name__} {exc}".rstrip()) from None
        if status >= 500:
            raise Indefinite(f"HTTP {status}: {text[:200]}")
        if status >= 400:
            raise Definite(f"HTTP {status}: {text[:200]}")
        try:
            answer = json.loads(text)
        except ValueError:
            raise Indefinite(f"unreadable answer {text[:200]!r}") from None
        if not isinstance(answer, dict):
            raise Indefinite(f"unexpected answer {text[:200]!r}")
        return answer
