"""The demo's HTTP services, each run as its own process: ``python -m faultlab.demo.services``.

- :mod:`.data`: the source of truth, ``GET /item/{id}``.
- :mod:`.inventory`: ``GET /stock/{id}``, backed by data.
- :mod:`.storefront`: ``GET /product/{id}``, backed by inventory.

:mod:`.common` holds what the three share; :mod:`.serve` runs one app as a well-behaved
process (ready line, pid file, clean exit on SIGTERM/SIGINT). Nothing is imported here, so
``python -m`` pays only for the service it starts.
"""
