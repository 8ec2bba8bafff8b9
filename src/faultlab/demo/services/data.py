"""The data service: the system of record at the bottom of the chain, ``GET /item/{id}``.

Answers are a pure function of the id (a CRC-32 of it), so every process, including one
restarted by an experiment, returns the same item, and tests can predict what inventory and
storefront should show without sharing state with them. About 1 in 25 items is out of stock,
so pages with ``in_stock: false`` appear in normal load too.
"""

from __future__ import annotations

import zlib

from aiohttp import web

from faultlab.demo.services.common import ID_PATTERN, add_health, json_reply

__all__ = ["item_for", "make_app"]

_STOCK_MODULUS = 25
_VERSIONS = 1000


def item_for(item_id: str) -> dict[str, object]:
    """The item record for ``item_id``: ``{"id", "stock", "version"}``, the same every time."""
    digest = zlib.crc32(item_id.encode())
    return {
        "id": item_id,
        "stock": digest % _STOCK_MODULUS,
        "version": (digest >> 8) % _VERSIONS + 1,
    }


async def _item(request: web.Request) -> web.Response:
    return json_reply(item_for(request.match_info["id"]))


def make_app() -> web.Application:
    app = web.Application()
    app.router.add_get(f"/item/{{id:{ID_PATTERN}}}", _item)
    add_health(app, "data")
    return app
