"""An async client for the proxy's control API, used by faultlab's faults and runner.

It also works against a real Toxiproxy, except for the leases (``ttl``), which Toxiproxy
ignores, and :meth:`ProxyClient.instance`, which is None there. Every call is bounded by
the client's timeout. With ``token`` every request carries ``Authorization: Bearer
<token>``, which a server started with ``--token`` requires.

Errors::

    ProxyApiError            the API answered with an error (status, message)
     └── ProxyUnreachable    no answer: refused, reset or timed out (status 0); a change
                             that timed out may or may not have been applied
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping
from typing import Any, NotRequired, TypedDict, cast
from urllib.parse import quote

import aiohttp

__all__ = ["ProxyApiError", "ProxyClient", "ProxyInfo", "ProxyUnreachable", "ToxicInfo"]

DEFAULT_TIMEOUT = 5.0
INSTANCE_HEADER = "X-Faultlab-Instance"


class ToxicInfo(TypedDict):
    attributes: dict[str, int]
    name: str
    type: str
    stream: str
    toxicity: float
    ttl_remaining: NotRequired[float | None]  # faultlab only


class ProxyInfo(TypedDict):
    name: str
    listen: str
    upstream: str
    enabled: bool
    toxics: list[ToxicInfo]
    ttl_remaining: NotRequired[float | None]  # faultlab only


class ProxyApiError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"HTTP {status}: {message}" if status else message)
        self.status = status
        self.message = message


class ProxyUnreachable(ProxyApiError):
    def __init__(self, message: str, *, sent: bool = True) -> None:
        super().__init__(0, message)
        #: False when no connection was made: the request certainly changed nothing
        self.sent = sent


def _path(*parts: str) -> str:
    return "/" + "/".join(quote(part, safe="") for part in parts)


class ProxyClient:
    def __init__(self, api_url: str, *, timeout: float = DEFAULT_TIMEOUT,
                 token: str | None = None) -> None:
        self.api_url = api_url.rstrip("/")
        self.timeout = timeout
        if token is not None and (not token or not all("!" <= c <= "~" for c in token)):
            raise ValueError("the API token must be visible ASCII characters, without "
                             "spaces")
        self._headers = {} if token is None else {"Authorization": f"Bearer {token}"}
        self._session: aiohttp.ClientSession | None = None

    def __repr__(self) -> str:  # never the token
        return f"ProxyClient({self.api_url!r})"

    async def __aenter__(self) -> ProxyClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def _send(self, method: str, path: str,
                    body: object = None) -> tuple[int, str, str | None]:
        """(status, body text, instance header) of one request, or ProxyUnreachable."""
        if self._session is None:
            self._session = aiohttp.ClientSession(headers=self._headers)
        url = self.api_url + path
        try:
            async with asyncio.timeout(self.timeout):
                async with self._session.request(method, url, json=body) as response:
                    text = await response.text(errors="replace")
                    return response.status, text, response.headers.get(INSTANCE_HEADER)
        except TimeoutError:
            raise ProxyUnreachable(f"{method} {url}: no answer within {self.timeout:g}s") from None
        except aiohttp.ClientConnectorError as exc:
            raise ProxyUnreachable(f"{method} {url}: {exc}", sent=False) from None
        except (aiohttp.ClientError, OSError) as exc:
            raise ProxyUnreachable(f"{method} {url}: {exc}") from None

    async def _request(self, method: str, path: str, body: object = None,
                       *, missing_ok: bool = False) -> Any:
        status, text, _ = await self._send(method, path, body)
        if status == 404 and missing_ok:
            return None
        if status >= 400:
            raise ProxyApiError(status, _error_message(text))
        try:
            return json.loads(text) if text.strip() else None
        except ValueError:
            raise ProxyApiError(status, f"not a JSON answer: {text[:200]!r}") from None

    # ----------------------------------------------------------------------- identity

    async def instance(self) -> str | None:
        """The server's instance id, or None for a server that reports none (Toxiproxy).

        faultlab's server names itself in every response (``X-Faultlab-Instance``, also
        on a 401) and at ``/faultlab/instance``; crash recovery compares it with the id it
        journaled before it touches a fault, so another server now listening on the old
        address is never changed.
        """
        status, text, header = await self._send("GET", "/faultlab/instance")
        if header:
            return header
        if status == 404:
            return None
        if status >= 400:
            raise ProxyApiError(status, _error_message(text))
        try:
            body = json.loads(text)
        except ValueError:
            return None
        value = body.get("instance") if isinstance(body, dict) else None
        return value if isinstance(value, str) and value else None

    # ------------------------------------------------------------------------ proxies

    async def version(self) -> str:
        return str((await self._request("GET", "/version"))["version"])

    async def create_proxy(self, name: str, listen: str, upstream: str,
                           enabled: bool = True) -> ProxyInfo:
        body = {"name": name, "listen": listen, "upstream": upstream, "enabled": enabled}
        return cast(ProxyInfo, await self._request("POST", "/proxies", body))

    async def delete_proxy(self, name: str, *, missing_ok: bool = False) -> None:
        await self._request("DELETE", _path("proxies", name), missing_ok=missing_ok)

    async def get_proxy(self, name: str) -> ProxyInfo:
        return cast(ProxyInfo, await self._request("GET", _path("proxies", name)))

    async def list_proxies(self) -> dict[str, ProxyInfo]:
        return cast(dict[str, ProxyInfo], await self._request("GET", "/proxies"))

    async def set_enabled(self, name: str, enabled: bool,
                          ttl: float | None = None) -> ProxyInfo:
        """Enable or disable ("down") a proxy; with ``ttl`` the server re-enables it itself."""
        body: dict[str, object] = {"enabled": enabled}
        if ttl is not None:
            body["ttl"] = ttl
        return cast(ProxyInfo, await self._request("PATCH", _path("proxies", name), body))

    async def reset(self) -> None:
        """Enable every proxy and remove every toxic."""
        await self._request("POST", "/reset")

    # ------------------------------------------------------------------------- toxics

    async def add_toxic(self, proxy: str, type: str, attributes: Mapping[str, float],
                        stream: str = "downstream", toxicity: float = 1.0,
                        name: str | None = None, ttl: float | None = None) -> ToxicInfo:
        """Add a toxic; with ``ttl`` (seconds) the server removes it by itself."""
        body: dict[str, object] = {"type": type, "stream": stream, "toxicity": toxicity,
                                   "attributes": dict(attributes)}
        if name is not None:
            body["name"] = name
        if ttl is not None:
            body["ttl"] = ttl
        return cast(ToxicInfo,
                    await self._request("POST", _path("proxies", proxy, "toxics"), body))

    async def update_toxic(self, proxy: str, name: str,
                           attributes: Mapping[str, float] | None = None,
                           toxicity: float | None = None) -> ToxicInfo:
        """Merge ``attributes`` into the toxic's; set ``toxicity`` if given."""
        body: dict[str, object] = {}
        if attributes is not None:
            body["attributes"] = dict(attributes)
        if toxicity is not None:
            body["toxicity"] = toxicity
        path = _path("proxies", proxy, "toxics", name)
        return cast(ToxicInfo, await self._request("PATCH", path, body))

    async def remove_toxic(self, proxy: str, name: str) -> None:
        """Remove a toxic; one that is already gone (or whose proxy is) is not an error."""
        await self._request("DELETE", _path("proxies", proxy, "toxics", name), missing_ok=True)


def _error_message(text: str) -> str:
    try:
        body = json.loads(text)
    except ValueError:
        return text.strip()
    if isinstance(body, dict) and isinstance(body.get("error"), str):
        return str(body["error"])
    return text.strip()
