"""faultlab's own fault kinds, one module each, registered here (the one place)."""

from faultlab.faults.kinds.command import COMMAND
from faultlab.faults.kinds.down import DOWN
from faultlab.faults.kinds.http import CONNECT_DELAY, CONNECT_REFUSE, HTTP_ABORT, HTTP_DELAY
from faultlab.faults.kinds.network import (
    BANDWIDTH,
    LATENCY,
    LIMIT_DATA,
    RESET,
    SLICER,
    SLOW_CLOSE,
    TIMEOUT,
)
from faultlab.faults.kinds.process import KILL, PAUSE, RESTART
from faultlab.faults.registry import FAULT_KINDS

BUILTIN_KINDS = (LATENCY, BANDWIDTH, DOWN, RESET, TIMEOUT, SLOW_CLOSE, SLICER, LIMIT_DATA,
                 HTTP_ABORT, HTTP_DELAY, CONNECT_DELAY, CONNECT_REFUSE, KILL, PAUSE, RESTART,
                 COMMAND)

for _kind in BUILTIN_KINDS:
    FAULT_KINDS.register(_kind)
