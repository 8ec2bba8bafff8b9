"""Workloads: open-loop load generators and the per-second statistics they record."""
