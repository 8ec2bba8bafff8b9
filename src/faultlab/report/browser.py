"""Open a report in headless Chromium over the DevTools protocol: console errors, a value
evaluated in the page, the time until the charts are drawn, and a full-page screenshot.

Used by the report tests and benchmark, and usable to attach a PNG of a report to a pull
request. Needs a Chromium binary (Debian: ``apt-get install chromium``); it is started with
a private profile in a temporary directory and always stopped.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import itertools
import json
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

__all__ = ["PageLoad", "find_chromium", "open_page"]

CANDIDATES = ("chromium", "chromium-browser", "google-chrome", "headless_shell")


def find_chromium() -> str | None:
    for name in CANDIDATES:
        path = shutil.which(name)
        if path:
            return path
    return None


@dataclass
class PageLoad:
    errors: list[str] = field(default_factory=list)  # console errors and uncaught exceptions
    value: Any = None  # the result of ``evaluate``
    load_ms: float = 0.0  # navigation start to the page saying it is ready
    screenshot: bytes | None = None


class _Cdp:
    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.ws = ws
        self.ids = itertools.count(1)
        self.pending: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self.events: asyncio.Queue[dict[str, Any]] = asyncio.Queue()

    async def pump(self) -> None:
        async for msg in self.ws:
            data = json.loads(msg.data)
            fut = self.pending.pop(data.get("id", -1), None)
            if fut is not None:
                fut.set_result(data)
            else:
                self.events.put_nowait(data)

    async def call(self, method: str, **params: Any) -> dict[str, Any]:
        i = next(self.ids)
        fut: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self.pending[i] = fut
        await self.ws.send_json({"id": i, "method": method, "params": params})
        reply = await asyncio.wait_for(fut, 30)
        if "error" in reply:
            raise RuntimeError(f"{method}: {reply['error']}")
        result: dict[str, Any] = reply.get("result", {})
        return result


def _file_url(path: Path) -> str:
    return path.resolve().as_uri()


def _error_text(event: dict[str, Any]) -> str | None:
    method, p = event.get("method"), event.get("params", {})
    if method == "Runtime.exceptionThrown":
        d = p.get("exceptionDetails", {})
        return str(d.get("exception", {}).get("description") or d.get("text"))
    if method == "Runtime.consoleAPICalled" and p.get("type") in ("error", "assert"):
        return " ".join(str(a.get("value", a.get("description", ""))) for a in p.get("args", []))
    if method == "Log.entryAdded" and p.get("entry", {}).get("level") == "error":
        return str(p["entry"].get("text"))
    return None


async def _wait_port(profile: Path, proc: subprocess.Popen[bytes]) -> int:
    port_file = profile / "DevToolsActivePort"
    for _ in range(300):
        if port_file.exists() and port_file.read_text().strip():
            return int(port_file.read_text().split()[0])
        if proc.poll() is not None:
            raise RuntimeError(f"chromium exited with {proc.returncode}")
        await asyncio.sleep(0.05)
    raise RuntimeError("chromium did not open its DevTools port")


async def open_page(path: Path, *, width: int = 1366, height: int = 900,
                    evaluate: str | None = None, screenshot: bool = False,
                    ready: str = "document.documentElement.dataset.ready === '1'",
                    chromium: str | None = None) -> PageLoad:
    """Load ``path`` (a file) and wait until ``ready`` is true in the page (10 s at most)."""
    binary = chromium or find_chromium()
    if binary is None:
        raise RuntimeError("no Chromium found (Debian: apt-get install chromium)")
    # Chromium's helpers (zygote, renderers) outlive its main process for a moment and go
    # on writing to the profile: it runs in its own process group, the whole group is ended
    # and waited for before the profile is removed.
    with tempfile.TemporaryDirectory(prefix="faultlab-chromium-",
                                     ignore_cleanup_errors=True) as tmp:
        profile = Path(tmp)
        proc = subprocess.Popen(
            [binary, "--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run",
             "--disable-extensions", "--disable-background-networking",
             f"--user-data-dir={profile}", "--remote-debugging-port=0",
             f"--window-size={width},{height}", "about:blank"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        try:
            port = await _wait_port(profile, proc)
            return await _drive(port, path, width, height, evaluate, screenshot, ready)
        finally:
            await _end_group(proc)


async def _end_group(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM the browser's process group, SIGKILL what is left after 10 s, and wait until
    no process of the group remains (bounded)."""
    import os
    import signal

    def group(sig: int) -> bool:
        try:
            os.killpg(proc.pid, sig)
        except (ProcessLookupError, PermissionError):
            return False
        return True

    group(signal.SIGTERM)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(10)
    group(signal.SIGKILL)
    if proc.poll() is None:
        proc.wait()
    for _ in range(500):  # signal 0: is any process of the group left?
        if not group(0):
            return
        await asyncio.sleep(0.01)


async def _drive(port: int, path: Path, width: int, height: int, evaluate: str | None,
                 screenshot: bool, ready: str) -> PageLoad:
    out = PageLoad()
    async with aiohttp.ClientSession() as http:
        async with http.get(f"http://127.0.0.1:{port}/json/list") as resp:
            targets = await resp.json()
        page = next(t for t in targets if t.get("type") == "page")
        async with http.ws_connect(page["webSocketDebuggerUrl"], max_msg_size=0) as ws:
            cdp = _Cdp(ws)
            pump = asyncio.create_task(cdp.pump())
            try:
                for domain in ("Runtime", "Log", "Page"):
                    await cdp.call(f"{domain}.enable")
                await cdp.call("Emulation.setDeviceMetricsOverride", width=width,
                               height=height, deviceScaleFactor=1, mobile=False)
                start = time.perf_counter()
                url = _file_url(path)
                await cdp.call("Page.navigate", url=url)
                # The page's own ready flag, once the page is the file asked for (not the
                # previous about:blank) and parsed whole: a static page that sets its flag
                # on <html> has it before the rest of the document is there.
                loaded = ("location.protocol === 'file:' && "
                          f"document.readyState === 'complete' && ({ready})")
                while True:
                    r = await cdp.call("Runtime.evaluate", expression=f"!!({loaded})",
                                       returnByValue=True)
                    if r.get("result", {}).get("value") is True:
                        break
                    if time.perf_counter() - start > 10:
                        out.errors.append("the page never became ready")
                        break
                    await asyncio.sleep(0.01)
                out.load_ms = (time.perf_counter() - start) * 1000
                if evaluate is not None:
                    r = await cdp.call("Runtime.evaluate", expression=evaluate,
                                       returnByValue=True)
                    out.value = r.get("result", {}).get("value")
                if screenshot:
                    size = (await cdp.call("Page.getLayoutMetrics"))["cssContentSize"]
                    clip = {"x": 0, "y": 0, "width": width,
                            "height": min(int(size["height"]), 16000), "scale": 1}
                    shot = await cdp.call("Page.captureScreenshot", format="png",
                                          captureBeyondViewport=True, clip=clip)
                    out.screenshot = base64.b64decode(shot["data"])
                await asyncio.sleep(0.05)  # let late console messages arrive
            finally:
                pump.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await pump
            while not cdp.events.empty():
                text = _error_text(cdp.events.get_nowait())
                if text is not None:
                    out.errors.append(text)
    return out
