"""Error budgets, as pure functions (Google SRE workbook, "Alerting on SLOs"):
budget = (1 - SLO)·window; burn rate = error rate / (1 - SLO)."""

from __future__ import annotations

__all__ = ["burn_rate", "error_budget"]


def error_budget(slo: float, window: float, rps: float) -> tuple[float, float]:
    """(seconds of full outage, requests allowed to fail) in the window: 99.9% over 30 days
    is 2592 s (43.2 min), and at 50/s 129,600 requests."""
    seconds = (1.0 - slo) * window
    return seconds, seconds * rps


def burn_rate(error_rate: float, slo: float) -> float:
    """How fast errors spend the budget: 1 spends it exactly over the window."""
    return error_rate / (1.0 - slo) if slo < 1.0 else float("inf")
