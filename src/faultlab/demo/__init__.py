"""The built-in demo system that ``faultlab demo`` runs experiments against.

Three HTTP services, each its own OS process so faultlab can kill, pause and restart one::

    load -> storefront --(HTTP)--> inventory --(HTTP)--> data

Each exists in a *naive* variant (no timeouts, no retries) and a *resilient* one (timeouts,
retries with jittered backoff, a circuit breaker, a bulkhead and fallbacks). Running the same
experiments against both shows what the patterns buy. Start a service with
``python -m faultlab.demo.services --help``.
"""
