"""Kernel network faults between the hosts of a lab (nftables and tc inside each host's
network namespace), and latency through faultlab's proxy where the kernel has no netem.

Kinds: ``partition`` (:mod:`.partition`), ``packet_loss`` and ``net_bandwidth``
(:mod:`.shaping`), ``net_delay`` (netem, when the kernel has it) and ``net_latency``
(proxy-steered, :mod:`.latency`). Every fault owns its kernel objects by name (one nft table
or root qdisc per host, :mod:`.kernel`), journals them in its undo record before applying
them, and starts a lease watchdog (:mod:`.watchdog`) that removes them by itself if nobody
reverts the fault in time. docs/lab-network-faults.md is the user's guide.
"""

from faultlab.lab.netfaults.latency import NET_LATENCY
from faultlab.lab.netfaults.partition import PARTITION
from faultlab.lab.netfaults.shaping import NET_BANDWIDTH, NET_DELAY, PACKET_LOSS

__all__ = ["NETWORK_KINDS", "NET_BANDWIDTH", "NET_DELAY", "NET_LATENCY", "PACKET_LOSS",
           "PARTITION"]

#: the kinds, for faultlab.faults.kinds to register
NETWORK_KINDS = (PARTITION, PACKET_LOSS, NET_BANDWIDTH, NET_DELAY, NET_LATENCY)
