"""faultlab: break a running system on purpose, measure what users feel, put everything back.

The public surface is small on purpose; most code lives in sub-packages:

- ``faultlab.experiment``: the experiment file (models and the YAML loader).
- ``faultlab.faults``: faults with inject / revert / lease.
- ``faultlab.proxy``: the fault-injection TCP proxy and its control API.
- ``faultlab.workload``: open-loop load generation and per-second HDR statistics.
- ``faultlab.run``: the runner, SLO evaluation, verdicts and outputs.
"""

__version__ = "0.1.0"

__all__ = ["__version__"]
