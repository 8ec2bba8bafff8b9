"""Workload kinds as plug-ins: the built-in factories, the supported-models table, and the
validation that refuses a client/model pair a client cannot run."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from faultlab.clock import ManualClock
from faultlab.experiment import ExperimentError, load_experiment_text
from faultlab.journal import Redactor
from faultlab.workload.base import HistoryRecording, Workload, WorkloadContext
from faultlab.workload.clients import CLIENT_KINDS, make_client
from faultlab.workload.clients.models import CLIENT_MODELS, MODEL_OPS
from faultlab.workload.kinds import RunningHistoryLoad, RunningHttpLoad, history_file_name
from faultlab.workload.spec import WORKLOAD_KINDS, HistoryWorkload, HttpWorkload


def _ctx(tmp_path: Path) -> WorkloadContext:
    return WorkloadContext(ManualClock(), tmp_path, 5, random.Random(5), Redactor())


def test_every_builtin_kind_builds_a_workload(tmp_path: Path) -> None:
    http = WORKLOAD_KINDS["http"].build(
        "shop", HttpWorkload.model_validate({"url": "http://127.0.0.1:1/", "rate": "5/s"}),
        _ctx(tmp_path))
    history = WORKLOAD_KINDS["history"].build(
        "store", HistoryWorkload.model_validate(
            {"client": "kv-http", "address": "127.0.0.1:1", "model": "register"}),
        _ctx(tmp_path))
    workloads: list[Workload] = [http, history]
    assert isinstance(http, RunningHttpLoad) and http.measured and http.name == "shop"
    assert isinstance(history, RunningHistoryLoad) and not history.measured
    assert isinstance(history, HistoryRecording) and not isinstance(http, HistoryRecording)
    assert history.history_file == "history-store.jsonl"
    assert [w.summary().load.planned for w in workloads] == [0, 0]


def test_the_shorthand_history_keeps_its_file_name() -> None:
    assert history_file_name("history") == "history.jsonl"
    assert history_file_name("orders") == "history-orders.jsonl"


def test_the_supported_models_table_matches_what_each_client_implements() -> None:
    assert set(CLIENT_MODELS) == set(CLIENT_KINDS)
    for client, models in CLIENT_MODELS.items():
        kinds = make_client(client, "127.0.0.1:1").kinds
        runnable = {m for m, needs in MODEL_OPS.items() if needs <= kinds}
        assert set(models) == runnable, client


@pytest.mark.parametrize(("client", "model", "runs_on"), [
    ("redis", "bank", "postgres"), ("etcd", "queue", "redis"), ("kv-http", "bank", "postgres")])
def test_a_model_the_client_cannot_run_is_refused_at_validation(
        client: str, model: str, runs_on: str) -> None:
    text = f"""
name: x
workload:
  history: {{client: {client}, address: "127.0.0.1:1", model: {model}}}
"""
    with pytest.raises(ExperimentError) as err:
        load_experiment_text(text, "x.yaml")
    message = str(err.value)
    assert f"'{model}' is a model that {client} cannot run" in message
    assert f"(hint: {client} runs: {', '.join(CLIENT_MODELS[client])}; the {model} model " \
           f"runs on: {runs_on}" in message
    assert message.startswith("x.yaml:4:")  # located at the workload


def test_a_supported_pair_and_named_workloads_load() -> None:
    exp = load_experiment_text("""
name: x
workloads:
  shop: {kind: http, url: "http://127.0.0.1:1/", rate: 5/s}
  ledger: {kind: history, client: postgres, address: "127.0.0.1:1", model: bank}
slos:
  - {name: fast, latency: {p99: 100ms, successful_only: true}}
""", "x.yaml").experiment
    assert list(exp.all_workloads()) == ["shop", "ledger"]
    assert exp.slo_workload(exp.slos[0]) == "shop"
