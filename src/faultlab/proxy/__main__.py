"""``python -m faultlab.proxy serve ...``: how the runner starts the proxy server."""

import sys

from faultlab.proxy.command import main

sys.exit(main())
