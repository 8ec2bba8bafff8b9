"""http_abort's ``requests``: a share of matching requests, in whole percent, that reaches
the proxy as the ``percent`` attribute and survives the journal's dump and reload."""

from __future__ import annotations

import json

import pytest

from faultlab.experiment import ExperimentError, load_experiment_text
from faultlab.experiment.model import experiment_model
from faultlab.faults.kinds.http_abort import HttpAbortSpec
from faultlab.run.rerun import escape_spec

EXPERIMENT = """
version: 1
name: share
targets:
  link: {{proxy: {{listen: "127.0.0.1:1", upstream: "127.0.0.1:2"}}}}
faults:
  - {{name: abort, kind: http_abort, target: link, duration: 10s{params}}}
"""


def _abort(params: str) -> HttpAbortSpec:
    loaded = load_experiment_text(EXPERIMENT.format(params=params), "share.yaml")
    fault = loaded.experiment.faults[0]
    assert isinstance(fault, HttpAbortSpec)
    return fault


def test_requests_defaults_to_every_matching_request() -> None:
    fault = _abort("")
    assert fault.requests == 1.0
    assert fault.attributes() == {"status": 503, "method": "", "path_prefix": "",
                                  "percent": 100}


@pytest.mark.parametrize(("written", "percent"), [("30%", 30), ("0.3", 30), ("1%", 1),
                                                  ("100%", 100), ("0.07", 7)])
def test_requests_becomes_the_percent_attribute(written: str, percent: int) -> None:
    fault = _abort(f", requests: {written}, path_prefix: /api")
    assert fault.attributes()["percent"] == percent


def test_requests_30_percent_dumps_and_loads_equal() -> None:
    loaded = load_experiment_text(EXPERIMENT.format(params=", requests: 30%, status: 502"),
                                  "share.yaml")
    dumped = escape_spec(loaded.experiment.model_dump(mode="json", by_alias=True))
    assert dumped["faults"][0]["requests"] == 0.3
    again = load_experiment_text(json.dumps(dumped), "dumped.json")
    assert again.experiment == loaded.experiment
    assert experiment_model().model_validate(dumped) == loaded.experiment
    fault = again.experiment.faults[0]
    assert isinstance(fault, HttpAbortSpec) and fault.attributes()["percent"] == 30


@pytest.mark.parametrize(("written", "message"), [
    ("0.5%", "0.5% is below the proxy's smallest share of requests, 1%"),
    ("0.001", "0.1% is below the proxy's smallest share of requests, 1%"),
    ("33.3%", "33.3% is not a whole number of percent"),
    ("0%", "ratio '0%' must be above 0 and at most 1"),
    ("120%", "ratio '120%' must be above 0 and at most 1"),
])
def test_requests_refuses_what_the_proxy_cannot_apply(written: str, message: str) -> None:
    with pytest.raises(ExperimentError, match=r"share\.yaml:7:\d+: faults\[0\]\.requests: "
                       + message.replace(".", r"\.")):
        _abort(f", requests: {written}")
