"""The resilient variant's time budget: every timeout, retry and breaker setting, in one place.

The demo's SLOs are measured at the storefront: p99 latency < 300 ms and success ratio ≥ 99 %,
at about 50 requests/s, while data is slowed by 800 ms, data is down, or inventory is killed
and restarted. The budget works from the SLO inwards, tier by tier::

    storefront deadline 250 ms   (< 300 ms p99, 50 ms left for the hop in and the handler)
    └─ attempt timeout 200 ms   (> inventory's 120 ms deadline + 80 ms for the hop and load)
        └─ inventory deadline 120 ms
            └─ attempt timeout 60 ms against data (data answers in ~1 ms when healthy)

So a healthy-but-busy inventory always answers (live, cached or fallback) well inside the
storefront's attempt timeout: storefront never gives up on an answer inventory was about to
give, and retries at the two tiers never multiply (inventory's retries finish inside one
storefront attempt). Per scenario, while the breakers are still closed:

- data slow by 800 ms: inventory tries twice (60 ms, backoff ≤ 25 ms, ≤ 35 ms), then answers
  from its cache or fallback at ~120 ms; storefront sees a 200 and shows a degraded page.
- data down: refused connections fail in ~1 ms, three attempts take ≤ ~80 ms (the backoffs),
  same fallback.
- inventory killed: storefront's three attempts fail in ≤ ~80 ms, it renders ``in_stock: null``.
- inventory paused (not one of the demo's faults, but the worst case): storefront times out
  at 200 ms, retries once with the ~45 ms left, and answers a degraded page at ~250 ms.

Five consecutive failed attempts (two or three requests' worth) open a breaker, after which
the fallback is immediate (~1 ms); a single probe each second (``cool_down``) finds the
dependency again once it is back. Every path stays under 300 ms even before the breaker has
opened, so the "learning" moments cost latency headroom, never the SLO.

Backoffs are 25 ms, then 50 ms, each fully jittered (a uniform draw below it): short,
because the deadlines are short, and the point of the jitter here is de-synchronising the
retries of concurrent requests, not waiting out an outage (that is the breaker's job); but
long enough that the growing, jittered gaps are measured at the dependency over a busy
machine's scheduling noise (``faultlab patterns verify`` checks them there).

Bulkheads of 64 are ~10x the in-flight calls needed at 50 requests/s with 120 ms worst
case, so they only bite on a real pile-up.
"""

from __future__ import annotations

from faultlab.demo.caller import ResilienceConfig
from faultlab.demo.resilience import BreakerConfig, RetryPolicy

__all__ = [
    "HOP_MARGIN",
    "INVENTORY_TO_DATA",
    "SLO_P99",
    "STOREFRONT_TO_INVENTORY",
]

#: The storefront latency objective the budget is designed for (seconds).
SLO_P99 = 0.300

#: Time reserved for one HTTP hop through the fault proxy plus handler work under load.
HOP_MARGIN = 0.050

_RETRY = RetryPolicy(max_retries=2, base_delay=0.025, max_delay=0.050)
_BREAKER = BreakerConfig(
    consecutive_failures=5, failure_ratio=0.5, min_calls=10, window=5.0, cool_down=1.0
)

INVENTORY_TO_DATA = ResilienceConfig(
    attempt_timeout=0.060,
    deadline=0.120,
    retry=_RETRY,
    breaker=_BREAKER,
    bulkhead_limit=64,
)

STOREFRONT_TO_INVENTORY = ResilienceConfig(
    attempt_timeout=0.200,
    deadline=0.250,
    retry=_RETRY,
    breaker=_BREAKER,
    bulkhead_limit=64,
)
