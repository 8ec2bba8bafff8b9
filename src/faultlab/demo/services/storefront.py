"""The storefront service, ``GET /product/{id}``: the page users load, built from inventory.

A page is ``{"id", "name", "in_stock", "degraded"}``. ``degraded`` is true whenever the stock
shown is not live: inventory answered from its cache (``in_stock`` from that value) or with
its fallback (``in_stock: null``, since inventory's default is a guess, not a count), or
inventory could not be reached at all. In that last case the resilient variant still serves
the page, with status 200 and ``in_stock: null``: a product page without a stock badge is
far better for a user than an error page. The naive variant answers 502 instead, after
waiting as long as inventory takes.
"""

from __future__ import annotations

from collections.abc import Mapping

from aiohttp import web

from faultlab.demo.budget import STOREFRONT_TO_INVENTORY
from faultlab.demo.caller import ResilienceConfig
from faultlab.demo.dependency import TraceContext, Variant, open_dependency
from faultlab.demo.resilience import Outcome
from faultlab.demo.services.common import (
    DEPENDENCY,
    ID_PATTERN,
    add_dependency,
    add_health,
    error,
    failure,
    json_reply,
)

__all__ = ["make_app", "page", "parse_stock", "product_name"]

_SOURCES = frozenset({"live", "cache", "fallback"})


def product_name(product_id: str) -> str:
    return f"Product {product_id}"


def parse_stock(body: Mapping[str, object]) -> tuple[int, str] | None:
    """``(stock, source)`` from inventory's answer, or None if the answer is unusable."""
    stock, source = body.get("stock"), body.get("source")
    if isinstance(stock, bool) or not isinstance(stock, int):
        return None
    if not isinstance(source, str) or source not in _SOURCES:
        return None
    return stock, source


def page(product_id: str, stock: tuple[int, str] | None) -> dict[str, object]:
    """The product page for ``product_id`` given inventory's ``(stock, source)``, if any."""
    if stock is None:
        in_stock: bool | None = None
        degraded = True
    else:
        count, source = stock
        in_stock = None if source == "fallback" else count > 0
        degraded = source != "live"
    return {
        "id": product_id,
        "name": product_name(product_id),
        "in_stock": in_stock,
        "degraded": degraded,
    }


def make_app(
    inventory_url: str, variant: Variant, config: ResilienceConfig = STOREFRONT_TO_INVENTORY
) -> web.Application:
    app = web.Application()
    add_dependency(app, lambda: open_dependency(inventory_url, variant, config))
    resilient = variant is Variant.RESILIENT

    async def product(request: web.Request) -> web.Response:
        product_id = request.match_info["id"]
        trace = TraceContext.of(request.headers)  # passed on to every attempt
        result = await request.app[DEPENDENCY].get(f"/stock/{product_id}", trace)
        reply = result.value
        if result.outcome is Outcome.CLIENT_ERROR and reply is not None:
            return json_reply(
                reply.body or {"error": "inventory refused the request"}, reply.status
            )
        stock = parse_stock(reply.body) if result.outcome is Outcome.OK and reply else None
        if stock is None and not resilient:
            return error(502, failure("inventory", result))
        return json_reply(page(product_id, stock))

    app.router.add_get(f"/product/{{id:{ID_PATTERN}}}", product)
    add_health(app, "storefront", variant.value)
    return app
