"""faultlab's exception tree (see :mod:`faultlab.api`)."""

from __future__ import annotations

__all__ = ["FaultlabError", "RunDirError"]


class FaultlabError(Exception):
    """Base of every exception faultlab raises for bad input."""


class RunDirError(FaultlabError):
    """The run directory cannot be used."""
