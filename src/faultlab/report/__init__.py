"""Reports: turn run directories into one self-contained HTML page and a Markdown summary.

Public API::

    write_report(run_dirs, out_dir=None) -> (html_path, markdown_path)
    build_report(runs) -> (html, markdown)          # from loaded runs, nothing written
    load_run(run_dir) -> RunData                     # what a section is given
    register_section(section)                        # plug-in sections (checkers, faults)

A report is a list of sections (see :mod:`faultlab.report.sections`); one run gives a
single report, several give a comparison.

Exceptions: ``ReportError`` (a directory that is not a readable run directory).
"""

from faultlab.report.builtin import ensure_registered
from faultlab.report.model import ReportError, RunData, load_run
from faultlab.report.page import build_report, write_report
from faultlab.report.sections import (
                                      Rendered,
                                      ReportContext,
                                      Section,
                                      Slot,
                                      register_section,
                                      registered_sections,
                                      unregister_section,
)

__all__ = ["Rendered", "ReportContext", "ReportError", "RunData", "Section", "Slot",
           "build_report", "load_run", "register_section", "registered_sections",
           "unregister_section", "write_report"]

ensure_registered()
