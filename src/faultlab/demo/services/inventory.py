"""The inventory service, ``GET /stock/{id}``: stock levels, read from data.

The answer carries its ``source`` so callers (and experiment reports) can tell fresh values
from substitutes:

- ``live``: data answered just now.
- ``cache``: data failed; this is the last value data gave for this id (resilient only).
- ``fallback``: data failed and nothing was cached; stock ``0`` is the conservative default,
  as promising stock that may not exist is worse than briefly hiding it (resilient only).

The naive variant answers 502 whenever data fails, and waits as long as data takes.
A 4xx from data (an id data does not know) is passed through in both variants: it is an
answer, not a failure, and substituting a fallback for it would invent an item.
"""

from __future__ import annotations

from collections.abc import Mapping

from aiohttp import web

from faultlab.demo.budget import INVENTORY_TO_DATA
from faultlab.demo.caller import ResilienceConfig
from faultlab.demo.dependency import TraceContext, Variant, open_dependency
from faultlab.demo.resilience import FallbackCache, Outcome
from faultlab.demo.services.common import (
    DEPENDENCY,
    ID_PATTERN,
    add_dependency,
    add_health,
    error,
    failure,
    json_reply,
)

__all__ = ["FALLBACK_STOCK", "make_app", "parse_item"]

#: What resilient inventory reports when data is unreachable and the id was never seen.
FALLBACK_STOCK = 0

_CACHE: web.AppKey[FallbackCache[str, int]] = web.AppKey("stock_cache", FallbackCache)


def parse_item(body: Mapping[str, object]) -> int | None:
    """The stock count in data's item record, or None if the record is unusable."""
    stock = body.get("stock")
    if isinstance(stock, bool) or not isinstance(stock, int) or stock < 0:
        return None
    return stock


def make_app(
    data_url: str, variant: Variant, config: ResilienceConfig = INVENTORY_TO_DATA
) -> web.Application:
    app = web.Application()
    app[_CACHE] = FallbackCache()
    add_dependency(app, lambda: open_dependency(data_url, variant, config))
    resilient = variant is Variant.RESILIENT

    async def stock(request: web.Request) -> web.Response:
        item_id = request.match_info["id"]
        trace = TraceContext.of(request.headers)  # passed on to every attempt
        result = await request.app[DEPENDENCY].get(f"/item/{item_id}", trace)
        reply = result.value
        if result.outcome is Outcome.CLIENT_ERROR and reply is not None:
            return json_reply(reply.body or {"error": "data refused the request"}, reply.status)
        count = parse_item(reply.body) if result.outcome is Outcome.OK and reply else None
        cache = request.app[_CACHE]
        if count is not None:
            cache.put(item_id, count)
            return json_reply({"id": item_id, "stock": count, "source": "live"})
        if not resilient:
            return error(502, failure("data", result))
        cached = cache.get(item_id)
        if cached is not None:
            return json_reply({"id": item_id, "stock": cached, "source": "cache"})
        return json_reply({"id": item_id, "stock": FALLBACK_STOCK, "source": "fallback"})

    app.router.add_get(f"/stock/{{id:{ID_PATTERN}}}", stock)
    add_health(app, "inventory", variant.value)
    return app
