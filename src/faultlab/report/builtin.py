"""The built-in sections, registered once, before any a plug-in adds."""

from __future__ import annotations

from faultlab.report.budget import BudgetSection
from faultlab.report.charts import ChartsSection
from faultlab.report.details import ClausesSection, FaultsSection, ReproduceSection, TimelineSection
from faultlab.report.history_checks import CheckDetailsSection, CheckFindingsSection
from faultlab.report.observed import ObservedSection
from faultlab.report.sections import Section, register_section
from faultlab.report.summary import FindingsSection, VerdictSection

__all__ = ["BUILTIN", "ensure_registered"]

BUILTIN: tuple[Section, ...] = (VerdictSection(), FindingsSection(), CheckFindingsSection(),
                                ChartsSection(), ObservedSection(), ClausesSection(),
                                BudgetSection(),
                                CheckDetailsSection(), FaultsSection(), TimelineSection(),
                                ReproduceSection())
_done: list[bool] = []


def ensure_registered() -> None:
    if _done:
        return
    _done.append(True)
    for section in BUILTIN:
        register_section(section)
