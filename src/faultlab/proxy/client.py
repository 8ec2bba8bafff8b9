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
from dataclasses import dataclass
from typing import Any, NotRequired, TypedDict, cast
from urllib.parse import quote

import aiohttp

from faultlab.proxy.observe import Record, RequestObservation, record_from_json

__all__ = ["ObservationPage", "ProxyApiError", "ProxyClient", "ProxyInfo", "ProxyUnreachable",
           "ToxicInfo"]

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
    observe: NotRequired[bool]  # faultlab only, and only when true


@dataclass(frozen=True, slots=True)
class ObservationPage:
    """One answer of ``GET /proxies/{name}/observations`` (see faultlab.proxy.observe)."""

    records: list[Record]  # finished, in the order they finished
    next: int  # the ``since`` of the next call
    dropped: int  # records the server's ring let go before they were read (since it began)
    open: list[RequestObservation]  # requests still waiting, outcome "open"


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
                           enabled: bool = True, observe: bool = False) -> ProxyInfo:
        """Create a proxy; with ``observe`` (faultlab only) it records every connection and
        HTTP request that passes, read with :meth:`observations`."""
        body: dict[str, object] = {"name": name, "listen": listen, "upstream": upstream,
                                   "enabled": enabled}
        if observe:  # only then: a Toxiproxy server sees the body it knows
            body["observe"] = True
        return cast(ProxyInfo, await self._request("POST", "/proxies", body))

    async def observations(self, name: str, since: int = 0,
                           limit: int = 10_000) -> ObservationPage:
        """The proxy's records numbered ``since`` or later (at most ``limit``, up to
        100000), and its open requests; pass the page's ``next`` as the next ``since``."""
        path = f"{_path('proxies', name, 'observations')}?since={since}&limit={limit}"
        body = await self._request("GET", path)
        if not isinstance(body, dict):
            raise ProxyApiError(200, f"not an observations page: {str(body)[:200]!r}")
        try:
            records = [record_from_json(item) for item in body["records"]]
            waiting = [RequestObservation.from_json(item) for item in body["open"]]
            return ObservationPage(records, int(body["next"]), int(body["dropped"]), waiting)
        except (KeyError, TypeError, ValueError) as exc:
            raise ProxyApiError(200, f"not an observations page: {exc!r}") from None

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
