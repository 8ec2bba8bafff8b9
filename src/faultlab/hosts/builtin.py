"""faultlab's own host kinds, registered on first use of the registry."""

from faultlab.hosts import HOST_KINDS
from faultlab.hosts.local import LOCAL
from faultlab.lab.host import LAB_HOST

HOST_KINDS.register(LOCAL)
HOST_KINDS.register(LAB_HOST)
