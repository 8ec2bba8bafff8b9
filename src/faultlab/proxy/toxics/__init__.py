"""The sans-IO toxic core: events in, commands out, no sockets and no clocks.

A *toxic* is the state of one fault on one direction of one connection. The relay feeds it
events and carries out the commands it returns:

====================  ===========================================================
event (method)        meaning
====================  ===========================================================
``on_chunk(data, at)`` bytes that may be delivered from time ``at`` on
``on_eof(at)``         the sending side closed its write half at ``at``
``on_tick(now)``       the time ``deadline()`` asked for has come
``update(attrs, now)`` the toxic's attributes were changed through the API
``on_remove(now)``     the toxic is leaving the chain: hand back whatever it holds
====================  ===========================================================

Commands (:data:`Command`): :class:`Deliver` bytes, :class:`Close` the direction (a FIN),
:class:`Reset` the whole connection (an RST), :class:`Hangup` (close the whole connection
with FINs), :class:`Reply` (answer the sender in the proxy's name, then close its side) and
:class:`Drop` bytes on the floor.

Rules every toxic keeps, which the relay and the chain rely on:

* **No commands from the future.** A command's time is never later than the time of the
  event that produced it (``at`` for chunks and EOF, ``now`` for ticks, updates and
  removal). A toxic that delays data *holds* it and asks for a tick with :meth:`deadline`.
  So the relay can act on a command as soon as it gets it, and an update or a removal takes
  effect at once instead of waiting for data scheduled under the old attributes.
* **Time never runs backwards for a toxic**: the times it is given do not decrease, and the
  times of the commands it emits do not decrease.
* **Order.** Bytes leave in the order they came in; nothing follows a :class:`Close`.
* **Conservation.** Every byte given to a toxic is eventually delivered, dropped (an explicit
  :class:`Drop`), handed back by :meth:`Toxic.on_remove`, or lost with a :class:`Reset`.

Toxiproxy's toxics: ``noop``, ``latency``, ``bandwidth``, ``slow_close``, ``timeout``,
``reset_peer``, ``slicer``, ``limit_data``. faultlab's own: ``http_abort`` and
``http_delay`` (HTTP/1.1 requests), ``connect_delay`` and ``connect_refuse`` (when a client
is accepted).

A new toxic type is one module here:
a subclass of :class:`Toxic`, an attribute dataclass deriving from :class:`Attributes`
(fields made with :func:`int_attribute`), and one :func:`register` call below; nothing else
in the proxy needs to change.
"""

from faultlab.proxy.toxics.bandwidth import BandwidthAttributes, BandwidthToxic
from faultlab.proxy.toxics.connect import (
    ConnectDelayAttributes,
    ConnectDelayToxic,
    ConnectRefuseAttributes,
    ConnectRefuseToxic,
)
from faultlab.proxy.toxics.core import (
    TOXIC_TYPES,
    Attributes,
    Close,
    Command,
    Deliver,
    Drop,
    Hangup,
    InvalidAttributes,
    NoopAttributes,
    NoopToxic,
    Reply,
    Reset,
    Toxic,
    ToxicType,
    int_attribute,
    register,
)
from faultlab.proxy.toxics.http import (
    HttpAbortAttributes,
    HttpAbortToxic,
    HttpDelayAttributes,
    HttpDelayToxic,
)
from faultlab.proxy.toxics.latency import LatencyAttributes, LatencyToxic
from faultlab.proxy.toxics.limit_data import LimitDataAttributes, LimitDataToxic
from faultlab.proxy.toxics.reset_peer import ResetPeerAttributes, ResetPeerToxic
from faultlab.proxy.toxics.slicer import SlicerAttributes, SlicerToxic
from faultlab.proxy.toxics.slow_close import SlowCloseAttributes, SlowCloseToxic
from faultlab.proxy.toxics.timeout import TimeoutAttributes, TimeoutToxic

__all__ = [
    "TOXIC_TYPES",
    "Attributes",
    "BandwidthAttributes",
    "BandwidthToxic",
    "Close",
    "Command",
    "ConnectDelayAttributes",
    "ConnectDelayToxic",
    "ConnectRefuseAttributes",
    "ConnectRefuseToxic",
    "Deliver",
    "Drop",
    "Hangup",
    "HttpAbortAttributes",
    "HttpAbortToxic",
    "HttpDelayAttributes",
    "HttpDelayToxic",
    "InvalidAttributes",
    "LatencyAttributes",
    "LatencyToxic",
    "LimitDataAttributes",
    "LimitDataToxic",
    "NoopAttributes",
    "NoopToxic",
    "Reply",
    "Reset",
    "ResetPeerAttributes",
    "ResetPeerToxic",
    "SlicerAttributes",
    "SlicerToxic",
    "SlowCloseAttributes",
    "SlowCloseToxic",
    "TimeoutAttributes",
    "TimeoutToxic",
    "Toxic",
    "ToxicType",
    "int_attribute",
    "register",
]


register(ToxicType("noop", NoopAttributes, NoopToxic))
register(ToxicType("latency", LatencyAttributes, LatencyToxic))
register(ToxicType("bandwidth", BandwidthAttributes, BandwidthToxic))
register(ToxicType("slow_close", SlowCloseAttributes, SlowCloseToxic))
register(ToxicType("timeout", TimeoutAttributes, TimeoutToxic))
register(ToxicType("reset_peer", ResetPeerAttributes, ResetPeerToxic))
register(ToxicType("slicer", SlicerAttributes, SlicerToxic))
register(ToxicType("limit_data", LimitDataAttributes, LimitDataToxic))
_REQUESTS = frozenset({"upstream"})
register(ToxicType("http_abort", HttpAbortAttributes, HttpAbortToxic,
                   default_stream="upstream", streams=_REQUESTS))
register(ToxicType("http_delay", HttpDelayAttributes, HttpDelayToxic,
                   default_stream="upstream", streams=_REQUESTS))
register(ToxicType("connect_delay", ConnectDelayAttributes, ConnectDelayToxic))
register(ToxicType("connect_refuse", ConnectRefuseAttributes, ConnectRefuseToxic))
