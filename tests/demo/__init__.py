"""Tests of the demo system: resilience primitives, service apps, and the real processes."""
