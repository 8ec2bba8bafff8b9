"""The experiment file: typed models (:mod:`.model`) and the only YAML loader (:mod:`.loader`)."""

from faultlab.experiment.errors import ExperimentError, Problem
from faultlab.experiment.loader import load_experiment, load_experiment_text

__all__ = ["ExperimentError", "Problem", "load_experiment", "load_experiment_text"]
