"""faultlab's own fault kinds, one module each, registered here (the one place)."""

from faultlab.faults.kinds.bandwidth import BANDWIDTH
from faultlab.faults.kinds.clock import CLOCK_BUMP, CLOCK_SKEW, CLOCK_STROBE
from faultlab.faults.kinds.command import COMMAND
from faultlab.faults.kinds.connect_delay import CONNECT_DELAY
from faultlab.faults.kinds.connect_refuse import CONNECT_REFUSE
from faultlab.faults.kinds.down import DOWN
from faultlab.faults.kinds.http_abort import HTTP_ABORT
from faultlab.faults.kinds.http_delay import HTTP_DELAY
from faultlab.faults.kinds.kill import KILL
from faultlab.faults.kinds.latency import LATENCY
from faultlab.faults.kinds.limit_data import LIMIT_DATA
from faultlab.faults.kinds.pause import PAUSE
from faultlab.faults.kinds.reset import RESET
from faultlab.faults.kinds.restart import RESTART
from faultlab.faults.kinds.slicer import SLICER
from faultlab.faults.kinds.slow_close import SLOW_CLOSE
from faultlab.faults.kinds.timeout import TIMEOUT
from faultlab.faults.registry import FAULT_KINDS
from faultlab.lab.netfaults import NETWORK_KINDS

BUILTIN_KINDS = (LATENCY, BANDWIDTH, DOWN, RESET, TIMEOUT, SLOW_CLOSE, SLICER, LIMIT_DATA,
                 HTTP_ABORT, HTTP_DELAY, CONNECT_DELAY, CONNECT_REFUSE, KILL, PAUSE, RESTART,
                 COMMAND, CLOCK_SKEW, CLOCK_BUMP, CLOCK_STROBE, *NETWORK_KINDS)

for _kind in BUILTIN_KINDS:
    FAULT_KINDS.register(_kind)
