"""Connect-time toxics: faults that act when a client is accepted, not on its bytes.

Neither Toxiproxy nor TCP in user space can delay or refuse the client's handshake itself
(the kernel completes it before the proxy sees the client), so these act at the first
moment the proxy can: ``connect_delay`` waits before dialling the upstream (the client is
connected but nothing flows, as with a slow upstream accept or SYN), and ``connect_refuse``
turns the client away with an RST before any byte (share of connections = toxicity). Both
leave the data path alone (the zero-copy fast path stays on) and apply to connections
accepted after they are added; the stream does not matter. A held dial follows the toxic:
removing ``connect_delay`` releases the connections it holds at once, and changing
``delay`` re-times them from their accept.
"""

from __future__ import annotations

from dataclasses import dataclass

from faultlab.proxy.toxics.core import DAY_MS, Attributes, Toxic, int_attribute

__all__ = ["ConnectDelayAttributes", "ConnectDelayToxic", "ConnectRefuseAttributes",
           "ConnectRefuseToxic"]


@dataclass(frozen=True, slots=True)
class ConnectDelayAttributes(Attributes):
    delay: int = int_attribute(DAY_MS, "ms")


class ConnectDelayToxic(Toxic[ConnectDelayAttributes]):
    """Dial the upstream ``delay`` ms after the client was accepted."""

    touches_data = False

    def connect_delay(self) -> float:
        return self.attributes.delay / 1000.0


@dataclass(frozen=True, slots=True)
class ConnectRefuseAttributes(Attributes):
    pass


class ConnectRefuseToxic(Toxic[ConnectRefuseAttributes]):
    """Reset the accepted client at once; the upstream is never dialled."""

    touches_data = False

    def refuses_connection(self) -> bool:
        return True
