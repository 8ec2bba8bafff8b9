"""``faultlab run --from RUN_DIR``: the experiment a past run journaled, and its seed.

The journal's ``run_started`` event holds the experiment as the file would write it (units
kept, a literal ``${`` written ``$${``), with every secret as its ``${env:NAME}`` reference.
Loading that text through the ordinary loader therefore gives an experiment equal to the one
that ran, with the secrets taken from the environment again.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from faultlab.errors import FaultlabError
from faultlab.experiment.errors import ExperimentError
from faultlab.experiment.loader import LoadedExperiment, load_experiment_text
from faultlab.journal import JOURNAL_NAME, Event

__all__ = ["RerunError", "escape_spec", "load_past_run"]


class RerunError(FaultlabError):
    """The run directory holds no usable journaled experiment."""


def escape_spec(value: Any) -> Any:
    """An experiment dump as file text: a literal ``${`` becomes ``$${``."""
    if isinstance(value, str):
        return value.replace("${", "$${")
    if isinstance(value, dict):
        return {k: escape_spec(v) for k, v in value.items()}
    if isinstance(value, list):
        return [escape_spec(v) for v in value]
    return value


def load_past_run(run_dir: Path, overrides: Mapping[str, str] | None = None
                  ) -> tuple[LoadedExperiment, int]:
    path = run_dir / JOURNAL_NAME
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            first = f.readline()
    except OSError as e:
        raise RerunError(f"{path}: cannot read the journal: {e.strerror} (hint: pass a run "
                         "directory, e.g. runs/20260101-120000-name)") from None
    try:
        event = json.loads(first)
        assert isinstance(event, dict) and event.get("event") == Event.RUN_STARTED.value
        spec, seed = event["spec"], event["seed"]
        assert isinstance(spec, dict) and isinstance(seed, int)
    except (ValueError, AssertionError, KeyError):
        raise RerunError(f"{path}:1: the journal does not start with a run_started event "
                         "holding the experiment (hint: is this a faultlab run directory?)"
                         ) from None
    try:
        loaded = load_experiment_text(json.dumps(spec, indent=1), f"{path}:run_started",
                                      overrides)
    except ExperimentError as e:
        raise RerunError(f"the journaled experiment does not load: {e}") from None
    return loaded, seed
