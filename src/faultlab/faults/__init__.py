"""Faults: reversible perturbations with inject / revert and a lease.

Adding a fault kind: a model in ``experiment/model.py`` (with ``applies_to``), a class here
(``prepare`` returns the :class:`~faultlab.faults.undo.Undo` journaled before ``inject``), and
a line in :func:`faultlab.faults.build.build_fault`. If its undo needs a new action, add an
``UndoKind`` and its handler in ``undo.py``: the runner, the lease keeper and
``faultlab recover`` all revert through that one function.
"""

from faultlab.faults.base import Fault, FaultContext, FaultError
from faultlab.faults.build import build_fault
from faultlab.faults.undo import Undo, UndoKind, execute_undo

__all__ = ["Fault", "FaultContext", "FaultError", "Undo", "UndoKind", "build_fault",
           "execute_undo"]
