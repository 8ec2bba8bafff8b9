"""A probe's Prometheus question: a PromQL instant query compared to a bound.

Every poll asks ``GET {url}/api/v1/query?query=...`` and judges the answer:

- an instant vector (one sample per series) or a scalar: every value must lie within the
  bounds (``below`` / ``above``, strict) for the poll to pass; a ratio of rates is an instant
  query over range vectors (``sum(rate(errors[30s])) / sum(rate(requests[30s]))``);
- no sample at all, or only NaN (``0 / 0``: no traffic), is *no data*, judged by
  ``no_data``: a probe error by default (nothing was learnt), or a pass or a failure when the
  user says what an absent series means (no error series yet: pass);
- everything that is not an answer about the system is a **probe error**, never a breach:
  Prometheus unreachable or slow past the probe's timeout, an HTTP error, a body that is not
  Prometheus's JSON, a rejected query (``bad_data``), a range vector or a string result. Probe
  errors are counted apart (:attr:`~faultlab.workload.stats.Outcome.PROBE_ERROR`); a clause
  that could judge nothing says so, and the run's status is ``probe_error``, not violated.

A query that Prometheus rejects is a mistake in the file: the probe's ``prepare`` asks once
and refuses to start on ``bad_data``. A Prometheus that is down when the run starts is not:
the run measures that, and reports it as probe errors.
"""

from __future__ import annotations

import math
from typing import Any, Literal

from pydantic import Field, model_validator

from faultlab.experiment.types import HttpUrl, Strict

__all__ = ["Answer", "PrometheusQuery", "judge"]

MAX_BODY = 1 << 20  # bytes of an answer read: a bound is compared to a handful of series


class PrometheusQuery(Strict):
    """A PromQL instant query; it passes when every value is within the bounds."""

    url: HttpUrl = Field(description="The Prometheus server, e.g. http://127.0.0.1:9090.")
    query: str = Field(min_length=1, max_length=8192, description="A PromQL expression "
                       "evaluated as an instant query, e.g. sum(rate(errors_total[30s])) / "
                       "sum(rate(requests_total[30s])).")
    below: float | None = Field(default=None, description="Every value must be below this.")
    above: float | None = Field(default=None, description="Every value must be above this.")
    no_data: Literal["error", "pass", "fail"] = Field(
        default="error", description="What an empty result (or only NaN) means: a probe "
        "error (nothing learnt), a pass, or a failure.")

    @model_validator(mode="after")
    def _bounded(self) -> PrometheusQuery:
        if self.below is None and self.above is None:
            raise ValueError("a Prometheus probe compares its result to a bound: give below: "
                             "or above: (e.g. below: 0.01 for an error ratio)")
        if self.below is not None and self.above is not None and self.above >= self.below:
            raise ValueError(f"above ({self.above:g}) must be less than below "
                             f"({self.below:g}): no value could pass")
        return self

    def endpoint(self) -> str:
        return self.url.rstrip("/") + "/api/v1/query"


#: a poll's judgement, with what was seen (for people): "ok", "failed", or a probe error:
#: "invalid" (Prometheus rejected the query as bad_data: a mistake in the file) or "error"
Answer = tuple[Literal["ok", "failed", "invalid", "error"], str]


def _values(data: Any) -> list[float] | str:
    """The sample values of a query result, or why there are none to judge."""
    if not isinstance(data, dict):
        return "the answer has no data object"
    kind, result = data.get("resultType"), data.get("result")
    if kind == "scalar":
        samples = [result]
    elif kind == "vector" and isinstance(result, list):
        samples = [s.get("value") if isinstance(s, dict) else None for s in result]
    elif kind == "matrix":
        return ("the query returns a range vector, which has no single value: evaluate it "
                "over the range (rate(...[30s]), avg_over_time(...[30s]))")
    else:
        return f"the query returns a {kind!s} result, not a number"
    values = []
    for sample in samples:
        if not (isinstance(sample, list) and len(sample) == 2):
            return f"a sample is not [time, value]: {sample!r:.80}"
        try:
            values.append(float(sample[1]))
        except (TypeError, ValueError):
            return f"a sample's value is not a number: {sample[1]!r:.80}"
    return values


def judge(spec: PrometheusQuery, status: int, body: Any) -> Answer:
    """Judge one answer of Prometheus's query API (``body`` decoded JSON, or None)."""
    if isinstance(body, dict) and body.get("status") == "error":
        kind = body.get("errorType", "error")
        return ("invalid" if kind == "bad_data" else "error"), (
            f"Prometheus rejected the query ({kind}): {body.get('error', '')}")
    if status != 200:
        return "error", f"Prometheus answered HTTP {status}"
    if not isinstance(body, dict) or body.get("status") != "success":
        return "error", "the answer is not Prometheus's query API JSON"
    values = _values(body.get("data"))
    if isinstance(values, str):
        return "error", values
    numbers = [v for v in values if not math.isnan(v)]
    if not numbers:
        seen = "no sample" if not values else "only NaN (no traffic?)"
        if spec.no_data == "error":
            return "error", (f"the query returned {seen} (hint: no_data: pass or fail says "
                             "what that means)")
        return ("ok" if spec.no_data == "pass" else "failed"), seen
    bad = [v for v in numbers if (spec.below is not None and not v < spec.below)
           or (spec.above is not None and not v > spec.above)]
    shown = ", ".join(f"{v:.6g}" for v in (bad or numbers)[:3])
    return ("failed" if bad else "ok"), shown


def decode(raw: bytes) -> Any:
    """The JSON of an answer, or None when it is not JSON."""
    import json

    try:
        return json.loads(raw)
    except ValueError:
        return None


async def ask(session: Any, spec: PrometheusQuery) -> Answer:
    """One instant query through an aiohttp ``session``; the caller bounds the time."""
    import aiohttp

    try:
        async with session.get(spec.endpoint(), params={"query": spec.query}) as response:
            raw = await response.content.read(MAX_BODY)
            status = response.status
    except (aiohttp.ClientError, OSError) as e:
        return "error", f"Prometheus at {spec.url} could not be asked: {e or type(e).__name__}"
    return judge(spec, status, decode(raw))
