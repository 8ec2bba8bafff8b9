"""The canvas loader: located one-line problems for each mistake, vars, the schema."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from faultlab.canvas.loader import load_canvas, load_canvas_text
from faultlab.cli import app
from faultlab.experiment.errors import ExperimentError

from .conftest import EXAMPLES

GOOD = """
name: shop
vars: {port: 8080}
zones: {a: {}, b: {availability: 99.9%}}
services:
  web: {instances: 2, zones: [a, b], mttf: 720h, mttr: 30m}
  api: {availability: 99.9%}
datastores:
  db: {replicas: 3}
dependencies:
  - {from: web, to: api, timeout: 200ms, attempts: 2, backoff: 10ms}
  - {from: api, to: db, timeout: 50ms}
journeys:
  buy:
    entry: web
    steps: ["web -> api", "api->db"]
    rps: 20/s
    request: {url: "http://127.0.0.1:${port}/buy"}
"""


def problems(text: str, overrides: dict[str, str] | None = None) -> list[str]:
    with pytest.raises(ExperimentError) as e:
        load_canvas_text(text, "c.yaml", overrides)
    return [str(p) for p in e.value.problems]


def test_a_good_canvas_loads_with_positions() -> None:
    loaded = load_canvas_text(GOOD, "c.yaml", {"port": "9090"})
    c = loaded.canvas
    assert c.services["web"].instance_availability == pytest.approx(720 / 720.5)
    assert c.datastores["db"].needed == 2
    assert c.dependencies[0].waits() == [0.01]
    assert [d.id for d in c.calls("buy")] == ["web->api", "api->db"]
    assert c.journeys["buy"].request is not None
    assert "9090" in str(c.journeys["buy"].request.url)
    assert loaded.locate_subject("api->db") == "c.yaml:12:5"
    assert loaded.locate_subject("buy") == "c.yaml:15:5"


@pytest.mark.parametrize(("change", "expected"), [
    (("to: db", "to: dbb"), "c.yaml:12:21: dependencies[1].to: unknown service or datastore "
     "'dbb' (hint: did you mean 'db'?)"),
    (("zones: [a, b]", "zones: [a, c]"), "c.yaml:6:34: services.web.zones[1]: unknown zone "
     "'c' (hint: zones: a, b)"),
    (("entry: web", "entry: wbe"), "c.yaml:15:12: journeys.buy.entry: unknown entry 'wbe' "
     "(hint: did you mean 'web'?)"),
    (('"api->db"', '"api -> dbx"'), "c.yaml:16:27: journeys.buy.steps[1]: no dependency "
     "api -> dbx (hint: did you mean 'api -> db'?)"),
    (('["web -> api", "api->db"]', '["api->db"]'), "c.yaml:16:13: journeys.buy.steps[0]: "
     "step api -> db starts at api, which the journey has not reached"),
    (("timeout: 50ms}", "timeout: 50ms}\n  - {from: db, to: web}"),
     "c.yaml:13:5: dependencies[2]: hard dependencies form a cycle: web -> api -> db -> web"),
    (("timeout: 50ms}", "timeout: 50ms}\n  - {from: api, to: db}"),
     "c.yaml:13:5: dependencies[2]: api -> db is declared twice (first as dependencies[1])"),
    (("replicas: 3", "replicas: 3, quorum: 4"), "c.yaml:9:7: datastores.db: quorum 4 is more "
     "than the 3 replicas"),
    (("backoff: 10ms", "backoff: [10ms, 20ms]"),
     "c.yaml:11:5: dependencies[0]: 2 backoffs for 1 retries"),
    (("attempts: 2", "attempts: two"), "c.yaml:11:52: dependencies[0].attempts:"),
    (("timeout: 200ms", "timeout: 200"), "c.yaml:11:35: dependencies[0].timeout: duration 200 "
     "has no unit"),
])
def test_each_mistake_is_one_located_line(change: tuple[str, str], expected: str) -> None:
    found = problems(GOOD.replace(*change))
    assert len(found) == 1, found
    assert found[0].startswith(expected), found[0]
    assert len(found[0].splitlines()) == 1


def test_unknown_var_override_and_a_near_miss_ratio() -> None:
    assert "--var prot=1: the file has no variable 'prot'" in problems(GOOD, {"prot": "1"})[0]
    warned = load_canvas_text(GOOD.replace("99.9%}", "0.99%}"), "c.yaml")
    assert any("did you mean 99%" in str(w) for w in warned.warnings)


def test_too_many_zones() -> None:
    zones = "{" + ", ".join(f"z{i}: {{}}" for i in range(13)) + "}"
    assert "more than 12 zones" in problems(GOOD.replace("{a: {}, b: {availability: 99.9%}}",
                                                         zones))[0]


def test_the_examples_load() -> None:
    for path in sorted(EXAMPLES.glob("*.yaml")):
        assert load_canvas(path).canvas.journeys


def test_schema_canvas() -> None:
    out = CliRunner().invoke(app, ["schema", "--canvas"])
    assert out.exit_code == 0
    doc = json.loads(out.stdout)
    assert doc["title"] == "faultlab canvas (version 1)"
    assert "from" in doc["$defs"]["Dependency"]["properties"]
