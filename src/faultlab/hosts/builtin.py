"""faultlab's own host kinds, registered on first use of the registry."""

from faultlab.hosts import HOST_KINDS
from faultlab.hosts.local import LOCAL

HOST_KINDS.register(LOCAL)
