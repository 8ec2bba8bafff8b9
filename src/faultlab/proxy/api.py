"""The control API: Toxiproxy's routes, JSON shapes, status codes and error bodies.

The API speaks Toxiproxy's dialect (routes, JSON shapes, status codes, error bodies,
the ``Mozilla/`` user-agent refusal) so that existing Toxiproxy clients work unchanged.
faultlab's additions are fields those clients ignore: ``ttl`` in requests (a lease),
``ttl_remaining`` in responses, and ``observe`` (a proxy that records what reaches its
upstream, read at ``GET /proxies/{name}/observations``: :mod:`faultlab.proxy.observe`;
shown in a proxy only when on). Deliberate differences from Toxiproxy, all on inputs it
mishandles: attribute values are range-checked (400 instead of a crash), a malformed
address or an unknown host is a 400 (a bind failure stays a 500 in Go's words), ``stream``
is stored in lower case, a proxy with no ``listen`` binds 127.0.0.1 rather than every
interface, a request that fails changes nothing (a proxy update binds its new address
before it stops the old one; ``/populate`` is all or nothing), ``/reset`` resets every
proxy it can before reporting the ones it could not, toxics listed when a proxy is created
are applied, ``/metrics`` is always on (counted live, GET only), and ``/openapi.json``
describes it all.

With a token (required when the API listens beyond loopback) every request must carry
``Authorization: Bearer <token>``; otherwise it gets a 401 in Toxiproxy's error shape.

Every response names the server instance in ``X-Faultlab-Instance`` (and
``GET /faultlab/instance`` describes it), so that crash recovery can tell the server it
left a fault on from another one now listening on the same port. Toxiproxy has neither.
A known path asked with a method it does not have gets 405 with an ``Allow`` header.
"""

from __future__ import annotations

import asyncio
import datetime
import json
import os
import re
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from aiohttp import web

from faultlab.proxy.model import ApiError
from faultlab.proxy.registry import Registry
from faultlab.proxy.schema import (
    parse_config,
    parse_json,
    parse_observations_query,
    parse_proxy_entry,
    parse_proxy_update,
    parse_toxic_create,
    parse_toxic_update,
)

__all__ = ["INSTANCE_HEADER", "TOXIPROXY_VERSION", "Instance", "build_app", "check_token"]

TOXIPROXY_VERSION = "2.12.0"  # the Toxiproxy API this server implements
HANDLER_TIMEOUT = 25.0  # as Toxiproxy; no handler should come close
INSTANCE_HEADER = "X-Faultlab-Instance"
_INSTANCE_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")
_TOKEN = re.compile(r"[!-~]{1,4096}")  # visible ASCII: it must survive an HTTP header
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def check_token(token: str) -> str:
    """The token, or ValueError: one to 4096 visible ASCII characters (no spaces)."""
    if not _TOKEN.fullmatch(token):
        raise ValueError("the API token must be 1 to 4096 visible ASCII characters, without "
                         "spaces (clients send it as 'Authorization: Bearer <token>')")
    return token


@dataclass(frozen=True, slots=True)
class Instance:
    """Who this server is: an id (given, or random), its process and its start time."""

    id: str
    pid: int
    started: str  # ISO 8601, UTC, milliseconds

    @classmethod
    def new(cls, instance_id: str | None = None) -> Instance:
        if instance_id is None:
            instance_id = secrets.token_hex(8)
        elif not _INSTANCE_ID.fullmatch(instance_id):
            raise ValueError(f"instance id {instance_id[:40]!r}: use 1 to 128 of A-Z a-z 0-9 "
                             "and . _ : -")
        started = datetime.datetime.now(datetime.UTC).isoformat(timespec="milliseconds")
        return cls(instance_id, os.getpid(), started)

    def to_json(self) -> dict[str, object]:
        return {"instance": self.id, "pid": self.pid, "started": self.started}


REGISTRY = web.AppKey("registry", Registry)
TOKEN = web.AppKey("token", str)
INSTANCE = web.AppKey("instance", Instance)


def _json(data: object, status: int = 200) -> web.Response:
    return web.Response(status=status, body=json.dumps(data).encode(),
                        content_type="application/json")


def _error(status: int, message: str) -> web.Response:
    """Toxiproxy's error body, written like Go's http.Error (text/plain, nosniff)."""
    body = json.dumps({"error": message, "status": status}, separators=(",", ":")) + "\n"
    response = web.Response(status=status, text=body, content_type="text/plain")
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


def _authorized(header: str, token: str) -> bool:
    """``Bearer <token>``; the scheme is case-insensitive (RFC 9110), the compare is not
    timed by the token's content."""
    scheme, _, credentials = header.strip().partition(" ")
    given = credentials.strip().encode("utf-8", "surrogateescape")
    return scheme.lower() == "bearer" and secrets.compare_digest(given, token.encode())


@web.middleware
async def _toxiproxy_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    response: web.StreamResponse
    token = request.app.get(TOKEN)
    if request.headers.get("User-Agent", "").startswith("Mozilla/"):
        # A browser page must not drive the proxy (CSRF, DNS rebinding), as in Toxiproxy.
        response = web.Response(status=403, text="User agent not allowed\n",
                                content_type="text/plain")
    elif token is not None and not _authorized(request.headers.get("Authorization", ""),
                                               token):
        response = _error(401, "missing or wrong API token: send Authorization: Bearer <token>")
        response.headers["WWW-Authenticate"] = 'Bearer realm="faultlab-proxy"'
    else:
        try:
            async with asyncio.timeout(HANDLER_TIMEOUT):
                response = await handler(request)
        except ApiError as exc:
            response = _error(exc.status, exc.message)
        except web.HTTPMethodNotAllowed as exc:
            # Empty, as Toxiproxy's; with the Allow header HTTP requires (RFC 9110 15.5.6).
            response = web.Response(status=405)
            response.headers["Allow"] = ", ".join(sorted(exc.allowed_methods))
        except web.HTTPNotFound:
            response = web.Response(status=404, text="404 page not found\n",
                                    content_type="text/plain")
        except web.HTTPException as exc:  # e.g. 413 for an oversized body
            response = _error(exc.status, exc.reason)
        except TimeoutError:
            response = _error(503, f"request took longer than {HANDLER_TIMEOUT:g}s")
        except Exception as exc:  # a bug: report it, keep serving
            request.app[REGISTRY].events.emit("api_error", method=request.method,
                                              path=request.path, error=repr(exc))
            response = _error(500, f"internal error: {exc!r}")
    response.headers["X-Toxiproxy-Request-Id"] = secrets.token_hex(8)
    response.headers[INSTANCE_HEADER] = request.app[INSTANCE].id
    return response


async def _body(request: web.Request) -> object:
    return parse_json(await request.read())


def _registry(request: web.Request) -> Registry:
    return request.app[REGISTRY]


async def _version(request: web.Request) -> web.Response:
    return web.Response(body=f'{{"version": "{TOXIPROXY_VERSION}"}}\n'.encode(),
                        headers={"Content-Type": "application/json;charset=utf-8"})


async def _list_proxies(request: web.Request) -> web.Response:
    registry = _registry(request)
    return _json({name: registry.proxy_json(proxy) for name, proxy in registry.proxies.items()})


async def _create_proxy(request: web.Request) -> web.Response:
    registry = _registry(request)
    proxy = await registry.create_proxy(*parse_proxy_entry(await _body(request)))
    return _json(registry.proxy_json(proxy), status=201)


async def _get_proxy(request: web.Request) -> web.Response:
    registry = _registry(request)
    return _json(registry.proxy_json(registry.get(request.match_info["proxy"])))


async def _update_proxy(request: web.Request) -> web.Response:
    registry = _registry(request)
    update = parse_proxy_update(await _body(request))
    proxy = await registry.update_proxy(request.match_info["proxy"], update)
    return _json(registry.proxy_json(proxy))


async def _delete_proxy(request: web.Request) -> web.Response:
    await _registry(request).delete_proxy(request.match_info["proxy"])
    return web.Response(status=204)


async def _list_toxics(request: web.Request) -> web.Response:
    registry = _registry(request)
    proxy = registry.get(request.match_info["proxy"])
    return _json([registry.toxic_json(proxy, spec) for spec in proxy.ordered_toxics()])


async def _create_toxic(request: web.Request) -> web.Response:
    registry = _registry(request)
    proxy_name = request.match_info["proxy"]
    registry.get(proxy_name)  # 404 for a missing proxy before 400 for a bad body
    spec = await registry.add_toxic(proxy_name, parse_toxic_create(await _body(request)))
    return _json(registry.toxic_json(registry.get(proxy_name), spec))


async def _get_toxic(request: web.Request) -> web.Response:
    registry = _registry(request)
    proxy = registry.get(request.match_info["proxy"])
    spec = proxy.toxic(request.match_info["toxic"])
    if spec is None:
        raise ApiError(404, "toxic not found")
    return _json(registry.toxic_json(proxy, spec))


async def _update_toxic(request: web.Request) -> web.Response:
    registry = _registry(request)
    proxy_name, toxic_name = request.match_info["proxy"], request.match_info["toxic"]
    update = parse_toxic_update(await _body(request))
    spec = await registry.update_toxic(proxy_name, toxic_name, update)
    return _json(registry.toxic_json(registry.get(proxy_name), spec))


async def _delete_toxic(request: web.Request) -> web.Response:
    registry = _registry(request)
    await registry.remove_toxic(request.match_info["proxy"], request.match_info["toxic"])
    return web.Response(status=204)


async def _observations(request: web.Request) -> web.Response:
    """faultlab: the proxy's finished records from ``since`` on, and its open requests."""
    proxy = _registry(request).get(request.match_info["proxy"])
    since, limit = parse_observations_query(request.query)
    log = proxy.observations
    page, following, dropped = log.records(since, limit)
    return _json({"proxy": proxy.name, "next": following, "dropped": dropped,
                  "records": [{"n": n, **record.to_json()} for n, record in page],
                  "open": [record.to_json() for record in log.open_requests()]})


async def _populate(request: web.Request) -> web.Response:
    """All or nothing; errors carry ``proxies`` (always empty here) and are JSON, as in
    Toxiproxy's populate errors."""
    registry = _registry(request)
    try:
        proxies = await registry.populate(parse_config(await _body(request)))
    except ApiError as exc:
        return _json({"error": exc.message, "status": exc.status, "proxies": []}, exc.status)
    return _json({"proxies": [registry.proxy_json(p) for p in proxies] or None}, status=201)


async def _metrics(request: web.Request) -> web.Response:
    from faultlab.proxy.metrics import CONTENT_TYPE, render  # prometheus_client: on first use

    body = render(_registry(request).metrics)
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE})


async def _instance(request: web.Request) -> web.Response:
    return _json(request.app[INSTANCE].to_json())


async def _openapi(request: web.Request) -> web.Response:
    from faultlab.proxy.openapi import openapi_document  # built on first use

    return _json(openapi_document())


async def _reset(request: web.Request) -> web.Response:
    await _registry(request).reset()
    return web.Response(status=204)


def build_app(registry: Registry, token: str | None = None,
              instance: Instance | None = None) -> web.Application:
    app = web.Application(middlewares=[_toxiproxy_middleware])
    app[REGISTRY] = registry
    app[INSTANCE] = instance or Instance.new()
    if token is not None:
        app[TOKEN] = check_token(token)
    proxy, toxic = "/proxies/{proxy}", "/proxies/{proxy}/toxics/{toxic}"
    app.router.add_routes([
        web.get("/version", _version),
        web.get("/proxies", _list_proxies),
        web.post("/proxies", _create_proxy),
        web.get(proxy, _get_proxy),
        web.post(proxy, _update_proxy),  # deprecated in Toxiproxy, still used by clients
        web.patch(proxy, _update_proxy),
        web.delete(proxy, _delete_proxy),
        web.get(f"{proxy}/toxics", _list_toxics),
        web.post(f"{proxy}/toxics", _create_toxic),
        web.get(toxic, _get_toxic),
        web.post(toxic, _update_toxic),
        web.patch(toxic, _update_toxic),
        web.delete(toxic, _delete_toxic),
        web.get(f"{proxy}/observations", _observations),
        web.post("/reset", _reset),
        web.post("/populate", _populate),
        # Toxiproxy answers any method here; TRACE and the like get 405 instead.
        web.get("/metrics", _metrics),
        web.get("/openapi.json", _openapi),
        web.get("/faultlab/instance", _instance),
    ])
    return app
