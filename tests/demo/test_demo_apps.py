"""The service handlers in-process, against scripted dependencies on real sockets.

The process tests cover the three demo scenarios; these cover the answers in between: a 4xx
from the dependency, a 5xx, a body that is not JSON or has the wrong shape, and what each
variant makes of them.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from faultlab.demo.dependency import Variant
from faultlab.demo.services import data, inventory, storefront

from .helpers import client, get

NAIVE, RESILIENT = Variant.NAIVE, Variant.RESILIENT


@asynccontextmanager
async def serving(app: web.Application) -> AsyncIterator[str]:
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    try:
        yield str(server.make_url("")).rstrip("/")
    finally:
        await server.close()


def scripted(path: str, answers: dict[str, web.Response], calls: Counter[str]) -> web.Application:
    """A stand-in dependency: ``answers`` by id; any other id gets a healthy data item."""

    async def handler(request: web.Request) -> web.Response:
        item_id = request.match_info["id"]
        calls[item_id] += 1
        if item_id in answers:
            answer = answers[item_id]
            return web.Response(body=answer.body, status=answer.status)
        return web.json_response(data.item_for(item_id))

    app = web.Application()
    app.router.add_get(path + "/{id}", handler)
    return app


DATA_ANSWERS = {
    "missing": web.json_response({"error": "no such item"}, status=404),
    "broken": web.json_response({"error": "boom"}, status=500),
    "garbage": web.Response(text="<html>not json</html>"),
    "negative": web.json_response({"id": "negative", "stock": -1, "version": 1}),
}


@pytest.mark.parametrize(
    ("variant", "item", "status", "body", "calls"),
    [
        (RESILIENT, "missing", 404, {"error": "no such item"}, 1),
        (NAIVE, "missing", 404, {"error": "no such item"}, 1),
        (RESILIENT, "broken", 200, {"id": "broken", "stock": 0, "source": "fallback"}, 3),
        (NAIVE, "broken", 502, None, 1),
        (RESILIENT, "garbage", 200, {"id": "garbage", "stock": 0, "source": "fallback"}, 3),
        (NAIVE, "garbage", 502, None, 1),
        (RESILIENT, "negative", 200, {"id": "negative", "stock": 0, "source": "fallback"}, 1),
        (NAIVE, "negative", 502, None, 1),
    ],
)
async def test_inventory_answers(
    variant: Variant, item: str, status: int, body: dict[str, object] | None, calls: int
) -> None:
    seen: Counter[str] = Counter()
    async with (
        serving(scripted("/item", DATA_ANSWERS, seen)) as data_url,
        serving(inventory.make_app(data_url, variant)) as inv_url,
        client() as session,
    ):
        answer = await get(session, f"{inv_url}/stock/{item}")
    assert answer.status == status
    if body is not None:
        assert answer.body == body
    else:
        assert str(answer.body["error"]).startswith("data: ")
    assert seen[item] == calls


def test_inventory_parse_item_rejects_unusable_stock() -> None:
    assert inventory.parse_item({"stock": 4}) == 4
    assert inventory.parse_item({"stock": 0}) == 0
    for bad in ({}, {"stock": -1}, {"stock": True}, {"stock": "4"}, {"stock": 1.5}):
        assert inventory.parse_item(bad) is None


INVENTORY_ANSWERS = {
    "cached": web.json_response({"id": "cached", "stock": 3, "source": "cache"}),
    "guessed": web.json_response({"id": "guessed", "stock": 0, "source": "fallback"}),
    "odd": web.json_response({"id": "odd", "stock": 3, "source": "crystal-ball"}),
    "gone": web.json_response({"error": "no such item"}, status=404),
}


@pytest.mark.parametrize(
    ("variant", "item", "status", "in_stock", "degraded"),
    [
        (RESILIENT, "cached", 200, True, True),
        (NAIVE, "cached", 200, True, True),
        (RESILIENT, "guessed", 200, None, True),
        (RESILIENT, "odd", 200, None, True),
        (NAIVE, "odd", 502, None, None),
        (RESILIENT, "gone", 404, None, None),
        (NAIVE, "gone", 404, None, None),
    ],
)
async def test_storefront_pages(
    variant: Variant, item: str, status: int, in_stock: bool | None, degraded: bool | None
) -> None:
    stock_app = scripted("/stock", INVENTORY_ANSWERS, Counter())
    async with (
        serving(stock_app) as inv_url,
        serving(storefront.make_app(inv_url, variant)) as front_url,
        client() as session,
    ):
        answer = await get(session, f"{front_url}/product/{item}")
    assert answer.status == status
    if degraded is not None:
        assert answer.body == {
            "id": item,
            "name": f"Product {item}",
            "in_stock": in_stock,
            "degraded": degraded,
        }


def test_page_shows_stock_only_when_inventory_knows_it() -> None:
    assert storefront.page("x", (2, "live"))["in_stock"] is True
    assert storefront.page("x", (0, "live"))["in_stock"] is False
    assert storefront.page("x", (0, "cache")) == {
        "id": "x",
        "name": "Product x",
        "in_stock": False,
        "degraded": True,
    }
    assert storefront.page("x", (0, "fallback"))["in_stock"] is None
    assert storefront.page("x", None)["degraded"] is True


def test_data_items_are_deterministic_and_plausible() -> None:
    items = [data.item_for(f"p{i}") for i in range(500)]
    assert items == [data.item_for(f"p{i}") for i in range(500)]
    stocks = [item["stock"] for item in items]
    assert all(isinstance(s, int) and 0 <= s < 25 for s in stocks)
    assert 0 in stocks  # some items are out of stock
    assert len(set(stocks)) > 10
