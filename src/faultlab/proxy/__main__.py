"""``python -m faultlab.proxy serve ...``: how the runner starts the proxy server."""

from faultlab.proxy.cli import app

app(prog_name="python -m faultlab.proxy")
