"""What reached the dependencies: the records of the run's observed proxies.

A proxy target with ``observe: true`` makes the run's proxy server record every connection
and HTTP request through it (:mod:`faultlab.proxy.observe`). Tear-down fetches them, after
the services have stopped (so no request is still open) and before the proxy server stops,
and writes them to ``observations.jsonl`` in the run directory, times in run seconds (second
0 is the start of the experiment, as for workload seconds and fault times). The proxy's
clock is ``time.monotonic`` in another process: CLOCK_MONOTONIC is one clock for the whole
machine, so its times and the run's line up without conversion beyond the origin.

For the record and the report each proxy is summed up per run second (:func:`summarize`):
attempts started, the ones that failed, the most in flight at once. The oracles of
``faultlab patterns verify`` read the records themselves (:func:`read_observations`).
"""

from __future__ import annotations

import contextlib
import json
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from faultlab.faults.base import ProxyEndpoint
    from faultlab.proxy.observe import ConnectionObservation, RequestObservation

__all__ = ["OBSERVATIONS_NAME", "collect", "read_observations", "summarize"]

OBSERVATIONS_NAME = "observations.jsonl"
PAGE = 10_000  # records per API call
MAX_PAGES = 100  # a bound on one proxy's pages: 1e6 records


def _shift(record: RequestObservation | ConnectionObservation, origin: float
           ) -> RequestObservation | ConnectionObservation:
    from faultlab.proxy.observe import RequestObservation

    def rel(t: float | None) -> float | None:
        return None if t is None else round(t - origin, 6)

    if isinstance(record, RequestObservation):
        start = rel(record.start)
        assert start is not None
        return replace(record, start=start, response=rel(record.response), end=rel(record.end))
    opened = rel(record.opened)
    assert opened is not None
    return replace(record, opened=opened, closed=rel(record.closed))


def failed(r: RequestObservation) -> bool:
    """No good answer: a 5xx, an answer a fault injected, or none at all."""
    return r.outcome != "response" or (r.status is not None and r.status >= 500)


def summarize(requests: Sequence[RequestObservation], connections: int, dropped: int,
              file: str, error: str | None = None) -> dict[str, Any]:
    """The record's entry for one proxy (times already in run seconds)."""
    seconds: dict[int, dict[str, int]] = {}

    def at(t: int) -> dict[str, int]:
        return seconds.setdefault(t, {"t": t, "started": 0, "failed": 0, "in_flight": 0})

    events: list[tuple[float, int]] = []
    for r in requests:
        s = at(int(r.start // 1))
        s["started"] += 1
        s["failed"] += failed(r)
        events += [(r.start, 1), (r.end if r.end is not None else r.start, -1)]
    # the most open at once in each second, by a sweep over starts and ends; at equal times
    # an end counts first (its slot was free by then); the requests open when a second
    # begins count in it even if nothing starts or ends in it
    open_now = 0
    last: int | None = None
    for t, step in sorted(events):
        sec = int(t // 1)
        for carried in range(last + 1 if last is not None else sec, sec + 1):
            at(carried)["in_flight"] = max(at(carried)["in_flight"], open_now)
        open_now += step
        at(sec)["in_flight"] = max(at(sec)["in_flight"], open_now)
        last = sec
    return {
        "requests": len(requests), "connections": connections, "dropped": dropped,
        "outcomes": dict(sorted(Counter(r.outcome for r in requests).items())),
        "statuses": dict(sorted(Counter(str(r.status) for r in requests
                                        if r.status is not None).items())),
        "traced": sum(1 for r in requests if r.trace_id is not None),
        "seconds": [seconds[t] for t in sorted(seconds)],
        "file": OBSERVATIONS_NAME if file else "", "error": error,
    }


async def _fetch(api_url: str, proxy: str, timeout: float
                 ) -> tuple[list[RequestObservation | ConnectionObservation], int]:
    from faultlab.proxy.client import ProxyClient

    records: list[RequestObservation | ConnectionObservation] = []
    dropped = 0
    since = 0
    async with ProxyClient(api_url, timeout=timeout) as client:
        for _ in range(MAX_PAGES):
            page = await client.observations(proxy, since=since, limit=PAGE)
            records += page.records
            dropped = page.dropped
            if not page.records or page.next == since:
                records += page.open  # still open at the end: the proxy says so
                break
            since = page.next
    return records, dropped


async def collect(endpoints: dict[str, ProxyEndpoint], observed: Iterable[str],
                  run_dir: Path, origin: float, *, timeout: float = 5.0
                  ) -> dict[str, dict[str, Any]]:
    """Fetch every observed proxy's records, write them to observations.jsonl, return the
    record's entries. Never raises for the proxy's sake: a failure is the entry's error."""
    from faultlab.proxy.observe import RequestObservation

    out: dict[str, dict[str, Any]] = {}
    lines: list[str] = []
    for target in observed:
        endpoint = endpoints.get(target)
        if endpoint is None:
            continue
        error = None
        try:
            raw, dropped = await _fetch(endpoint.api_url, endpoint.proxy, timeout)
        except Exception as e:  # the proxy server died, or answered nonsense
            raw, dropped, error = [], 0, f"observations not read: {type(e).__name__}: {e}"
        records = [_shift(r, origin) for r in raw]
        requests = [r for r in records if isinstance(r, RequestObservation)]
        lines += [json.dumps({"target": target, **r.to_json()}, separators=(",", ":"))
                  for r in records]
        out[target] = summarize(requests, len(records) - len(requests), dropped,
                                OBSERVATIONS_NAME, error)
    if out:
        with contextlib.suppress(OSError):
            (run_dir / OBSERVATIONS_NAME).write_text("".join(line + "\n" for line in lines))
    return out


def read_observations(run_dir: Path, target: str) -> list[RequestObservation]:
    """The request records of one observed target of a finished run (run seconds)."""
    from faultlab.proxy.observe import RequestObservation

    path = run_dir / OBSERVATIONS_NAME
    if not path.exists():
        return []
    out = []
    for line in path.read_text().splitlines():
        data = json.loads(line)
        if data.pop("target", None) != target or data.get("type") != "request":
            continue
        out.append(RequestObservation.from_json(data))
    return out
