"""The experiment file: typed models (:mod:`.model`) and the only YAML loader (:mod:`.loader`).

Names are imported on first use: :mod:`.types` is used by the fault and workload specs, which
the models in turn import, so this package must not import its models eagerly.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from faultlab.experiment.errors import ExperimentError, Problem
    from faultlab.experiment.loader import load_experiment, load_experiment_text

__all__ = ["ExperimentError", "Problem", "load_experiment", "load_experiment_text"]


def __getattr__(name: str) -> Any:
    if name in ("ExperimentError", "Problem"):
        from faultlab.experiment import errors

        return getattr(errors, name)
    if name in ("load_experiment", "load_experiment_text"):
        from faultlab.experiment import loader

        return getattr(loader, name)
    raise AttributeError(f"module 'faultlab.experiment' has no attribute {name!r}")
