"""What the three demo services share: id routes, health, JSON replies, the dependency's life.

The dependency client is opened in the app's cleanup context rather than at construction,
because aiohttp sessions belong to the running event loop, and it is closed there too, so a
SIGTERM never leaves a session (and its sockets) unclosed.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Mapping

from aiohttp import web

from faultlab.demo.caller import CallResult
from faultlab.demo.dependency import Dependency, Reply
from faultlab.demo.resilience import Outcome

__all__ = [
    "DEPENDENCY",
    "ID_PATTERN",
    "add_dependency",
    "add_health",
    "error",
    "failure",
    "json_reply",
]

#: Ids are short URL-safe tokens; anything else gets aiohttp's 404 before a handler runs.
ID_PATTERN = r"[A-Za-z0-9_.-]{1,64}"

#: Where a service keeps the client of the service it depends on.
DEPENDENCY: web.AppKey[Dependency] = web.AppKey("dependency", Dependency)


def json_reply(body: Mapping[str, object], status: int = 200) -> web.Response:
    return web.json_response(dict(body), status=status)


def error(status: int, message: str) -> web.Response:
    return json_reply({"error": message}, status)


def failure(dependency: str, result: CallResult[Reply]) -> str:
    """Why a call gave no usable answer, for the body of a 502."""
    if result.outcome is Outcome.OK:
        return f"{dependency}: unusable answer"
    return f"{dependency}: {result.outcome.value} {result.detail}".rstrip()


def add_health(app: web.Application, service: str, variant: str | None = None) -> None:
    """``GET /health`` answers from this process alone, never from a dependency, so that a
    health check tells whether *this* process is up, not whether the whole chain is."""
    body: dict[str, object] = {"status": "ok", "service": service}
    if variant is not None:
        body["variant"] = variant

    async def health(request: web.Request) -> web.Response:
        return json_reply(body)

    app.router.add_get("/health", health)


def add_dependency(app: web.Application, factory: Callable[[], Dependency]) -> None:
    """Open the dependency client when the app starts and close it when it stops."""

    async def lifespan(app: web.Application) -> AsyncIterator[None]:
        dependency = factory()
        app[DEPENDENCY] = dependency
        try:
            yield
        finally:
            await dependency.close()

    app.cleanup_ctx.append(lifespan)
