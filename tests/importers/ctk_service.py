"""A small service for the Chaos Toolkit import tests, run as its own process:
``python ctk_service.py PORT TOKEN``. It is healthy until ``POST /break`` (which needs the
header ``X-Token: TOKEN``, so a secret substituted into a converted action is proven to
arrive) and healthy again after ``POST /fix``; ``GET /state`` says what happened to it."""

from __future__ import annotations

import sys

from aiohttp import web

state = {"healthy": True, "breaks": 0, "fixes": 0}


async def health(request: web.Request) -> web.Response:
    up = state["healthy"]
    body = {"status": "ok" if up else "down", "checks": [{"name": "db",
            "state": "up" if up else "down"}], "load": 3 if up else 97}
    return web.json_response(body, status=200 if up else 503)


async def load(request: web.Request) -> web.Response:
    return web.Response(text="3" if state["healthy"] else "97")


async def break_(request: web.Request) -> web.Response:
    if request.headers.get("X-Token") != sys.argv[2]:
        return web.Response(status=403, text="bad token")
    state["healthy"] = False
    state["breaks"] = int(state["breaks"]) + 1
    return web.Response(text="broken")


async def fix(request: web.Request) -> web.Response:
    state["healthy"] = True
    state["fixes"] = int(state["fixes"]) + 1
    return web.Response(text="fixed")


async def show(request: web.Request) -> web.Response:
    return web.json_response(state)


app = web.Application()
app.add_routes([web.get("/health", health), web.get("/load", load), web.post("/break", break_),
                web.post("/fix", fix), web.get("/state", show)])

if __name__ == "__main__":
    web.run_app(app, host="127.0.0.1", port=int(sys.argv[1]), print=None,
                handle_signals=True)
