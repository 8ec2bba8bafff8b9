"""faultlab: break a running system on purpose, measure what users feel, put everything back.

The public surface is small on purpose; most code lives in sub-packages:

- ``faultlab.experiment``: the experiment file (models and the YAML loader).
- ``faultlab.faults``: faults with inject / revert / lease.
- ``faultlab.proxy``: the fault-injection TCP proxy and its control API.
- ``faultlab.workload``: open-loop load generation and per-second HDR statistics.
- ``faultlab.run``: the runner, SLO evaluation, verdicts and outputs.
"""

__version__ = "0.1.0"

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from faultlab.api import (
        ExperimentError,
        FaultlabError,
        RunDirError,
        RunResult,
        arun_experiment,
        load_experiment,
        run_experiment,
    )

__all__ = ["ExperimentError", "FaultlabError", "RunDirError", "RunResult", "__version__",
           "arun_experiment", "load_experiment", "run_experiment"]


def __getattr__(name: str) -> Any:
    # Imported on first use, so that `faultlab --help` does not pay for pydantic's models.
    if name in __all__:
        from faultlab import api

        return getattr(api, name)
    raise AttributeError(f"module 'faultlab' has no attribute {name!r}")
