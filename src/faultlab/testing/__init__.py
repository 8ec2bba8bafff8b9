"""faultlab in pytest: fixtures that apply faults in your own tests, and experiment files
collected as tests (the plug-in is :mod:`faultlab.testing.plugin`; docs/pytest.md).

The names here are for annotations and ``except`` clauses; the fixtures make the objects::

    def test_slow_db(faultlab_proxy: ProxyFactory, faultlab_fault: FaultFactory) -> None:
        db = faultlab_proxy("127.0.0.1:5432")
        with faultlab_fault("latency", target=db, delay="200ms"):
            ...

Exceptions::

    FaultlabError
     └── FaultSpecError     a fault's parameters are invalid (one line each, as in files)
    FaultError              a fault could not be applied (it was reverted)
     └── RevertFailed       a fault could not be reverted: it stays until its lease ends
    ExperimentFailed        an experiment item's hypothesis did not hold

Names are imported on first use: pytest imports the plug-in in every session, and most
sessions never touch a fault.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from faultlab.faults.base import FaultError
    from faultlab.testing.block import FaultBlock, FaultFactory, RevertFailed
    from faultlab.testing.collect import ExperimentFailed
    from faultlab.testing.proxies import Proxy, ProxyFactory, ProxyServer
    from faultlab.testing.spec import FaultSpecError, HasPid, TargetLike

__all__ = ["ExperimentFailed", "FaultBlock", "FaultError", "FaultFactory", "FaultSpecError",
           "HasPid", "Proxy", "ProxyFactory", "ProxyServer", "RevertFailed", "TargetLike"]

_HOMES = {"FaultError": "faultlab.faults.base", "FaultBlock": "faultlab.testing.block",
          "FaultFactory": "faultlab.testing.block", "RevertFailed": "faultlab.testing.block",
          "ExperimentFailed": "faultlab.testing.collect", "Proxy": "faultlab.testing.proxies",
          "ProxyFactory": "faultlab.testing.proxies", "ProxyServer": "faultlab.testing.proxies",
          "FaultSpecError": "faultlab.testing.spec", "HasPid": "faultlab.testing.spec",
          "TargetLike": "faultlab.testing.spec"}


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'faultlab.testing' has no attribute {name!r}")
    return getattr(importlib.import_module(home), name)
