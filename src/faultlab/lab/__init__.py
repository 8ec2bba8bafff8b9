"""The lab: a cluster of hosts on one Linux machine, each a network namespace on a shared
bridge, with addresses from 198.18.0.0/15.

:mod:`.spec` the file (and an experiment's ``system.lab``), :mod:`.state` what is recorded
on disk before anything is made, :mod:`.net` the kernel objects, :mod:`.control` up/down/ls,
:mod:`.host` lab hosts as faultlab hosts, :mod:`.netfaults` kernel network faults.
Names are imported lazily: the experiment model imports :mod:`.spec` alone.
"""

from __future__ import annotations

from typing import Any

__all__ = ["LabError", "LabHost", "LabSpec", "lab_down", "lab_up", "list_labs"]

_WHERE = {"LabError": "control", "lab_down": "control", "lab_up": "control",
          "list_labs": "control", "LabHost": "host", "LabSpec": "spec"}


def __getattr__(name: str) -> Any:
    if name not in _WHERE:
        raise AttributeError(name)
    import importlib

    return getattr(importlib.import_module(f"faultlab.lab.{_WHERE[name]}"), name)
