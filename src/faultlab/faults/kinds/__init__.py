"""faultlab's own fault kinds, one module each, listed here (the one place).

:data:`KINDS` maps each kind's name to ``"module:ATTRIBUTE"`` of its
:class:`~faultlab.faults.registry.FaultKind`; the registry imports a kind's module when an
experiment first names the kind (so validating a file with one kill fault imports neither
the proxy toxics nor the lab's network faults), and all of them for the whole union
(``faultlab schema``). The order is the order of ``faultlab schema`` and of error hints.
"""

_NET = "faultlab.lab.netfaults"

KINDS = {
    "latency": "faultlab.faults.kinds.latency:LATENCY",
    "bandwidth": "faultlab.faults.kinds.bandwidth:BANDWIDTH",
    "down": "faultlab.faults.kinds.down:DOWN",
    "reset": "faultlab.faults.kinds.reset:RESET",
    "timeout": "faultlab.faults.kinds.timeout:TIMEOUT",
    "slow_close": "faultlab.faults.kinds.slow_close:SLOW_CLOSE",
    "slicer": "faultlab.faults.kinds.slicer:SLICER",
    "limit_data": "faultlab.faults.kinds.limit_data:LIMIT_DATA",
    "http_abort": "faultlab.faults.kinds.http_abort:HTTP_ABORT",
    "http_delay": "faultlab.faults.kinds.http_delay:HTTP_DELAY",
    "connect_delay": "faultlab.faults.kinds.connect_delay:CONNECT_DELAY",
    "connect_refuse": "faultlab.faults.kinds.connect_refuse:CONNECT_REFUSE",
    "kill": "faultlab.faults.kinds.kill:KILL",
    "pause": "faultlab.faults.kinds.pause:PAUSE",
    "restart": "faultlab.faults.kinds.restart:RESTART",
    "command": "faultlab.faults.kinds.command:COMMAND",
    "clock_skew": "faultlab.faults.kinds.clock:CLOCK_SKEW",
    "clock_bump": "faultlab.faults.kinds.clock:CLOCK_BUMP",
    "clock_strobe": "faultlab.faults.kinds.clock:CLOCK_STROBE",
    "partition": f"{_NET}.partition:PARTITION",
    "packet_loss": f"{_NET}.shaping:PACKET_LOSS",
    "net_bandwidth": f"{_NET}.shaping:NET_BANDWIDTH",
    "net_delay": f"{_NET}.shaping:NET_DELAY",
    "net_latency": f"{_NET}.latency:NET_LATENCY",
}
