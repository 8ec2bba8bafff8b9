"""Formatting shared by sections: escaping for HTML and Markdown, figures, statuses."""

from __future__ import annotations

import html
import re
import shlex

from faultlab.report.model import RunData
from faultlab.run.verdict import Status
from faultlab.units import format_duration

__all__ = ["STATUS_HEADLINE", "esc", "figure", "md", "md_table", "run_labels", "seconds",
           "shell_line", "status_class"]

STATUS_HEADLINE = {
    Status.HELD: "Hypothesis held",
    Status.VIOLATED: "Hypothesis violated",
    Status.STEADY_STATE_FAILED: "Steady state not met: no fault was injected",
    Status.PROBE_ERROR: "Not judged: a probe could not ask (a probe error, not a breach)",
    Status.ABORTED: "Aborted: an abort condition fired",
    Status.INTERRUPTED: "Interrupted before the end",
    Status.REVERT_FAILED: "A REVERT FAILED: the system may still be broken",
    Status.ERROR: "The run failed with an error",
}


def esc(value: object) -> str:
    return html.escape(str(value), quote=True)


_MD_SPECIAL = re.compile(r"([\\`*_\[\]|#])")


def md(value: object) -> str:
    """Text for Markdown (GitHub renders inline HTML, so entities too)."""
    text = html.escape(str(value), quote=False).replace("\r", " ").replace("\n", " ")
    return _MD_SPECIAL.sub(r"\\\1", text)


def md_table(header: list[str], rows: list[list[str]]) -> str:
    """Cells are already Markdown (escape with :func:`md`)."""
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def figure(value: float | None, unit: str) -> str:
    if value is None:
        return "no data"
    if unit == "s":
        return format_duration(value)
    if unit == "ratio":
        return f"{value:.2%}"
    return f"{value:g}"


def seconds(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}s"


def status_class(run: RunData) -> str:
    if run.status is Status.HELD:
        return "held"
    if run.status in (Status.VIOLATED, Status.STEADY_STATE_FAILED):
        return "violated"
    return "error"


def headline(run: RunData) -> str:
    if run.status is None:
        return "No verdict: the run did not finish"
    return STATUS_HEADLINE[run.status]


def shell_line(argv: list[str]) -> str:
    return shlex.join(argv)


_VAR = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*=")


def _vars(run: RunData) -> dict[str, str]:
    out = {}
    args = run.command
    for i, a in enumerate(args):
        value = args[i + 1] if a in ("--var", "-v") and i + 1 < len(args) else (
            a.split("=", 1)[1] if a.startswith("--var=") else None)
        if value is not None and _VAR.match(value):
            k, v = value.split("=", 1)
            out[k] = v
    return out


def run_labels(runs: list[RunData]) -> list[str]:
    """Short distinct labels: the experiment name, else the ``--var`` values that differ
    (e.g. ``naive`` / ``resilient``), else the run directory's name."""
    names = [r.experiment for r in runs]
    if len(set(names)) == len(names):
        return names
    vs = [_vars(r) for r in runs]
    keys = sorted({k for v in vs for k in v if len({x.get(k) for x in vs}) > 1})
    if keys:
        labels = [" ".join(v.get(k, "-") for k in keys) for v in vs]
        if len(set(labels)) == len(labels):
            return labels
    return [r.run_dir.name or str(r.run_dir) for r in runs]
