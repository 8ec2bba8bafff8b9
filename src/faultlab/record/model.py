"""The run record: what ``result.json`` holds, as one versioned model.

The writer (:mod:`faultlab.run.outputs`), the report and the tests all go through
:class:`RunRecord`; its JSON Schema (:func:`record_schema`, ``faultlab schema --result``) is
what other tools may rely on. ``record_version`` changes when a key is removed, renamed or
changes meaning; adding an optional key does not change it.

Workloads are named (an experiment may drive several): ``workloads`` holds each one's
figures. ``workload``, ``generator`` and ``history`` are derived from it for readers that
know a single workload: the first measured workload's totals and generator, and the first
recorded history.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import ConfigDict, Field, ValidationError, computed_field, model_validator

from faultlab.errors import FaultlabError
from faultlab.record.parts import (
    BudgetEntry,
    CheckEntry,
    ClauseEntry,
    ExperimentRef,
    FaultEntry,
    GeneratorFigures,
    HistoryFigures,
    ObservedProxy,
    Part,
    WorkloadEntry,
    WorkloadTotals,
)
from faultlab.run.verdict import Status

if TYPE_CHECKING:
    from faultlab.experiment.loader import LoadedExperiment
    from faultlab.run.verdict import Verdict

__all__ = ["RECORD_VERSION", "RecordError", "RunRecord", "record_schema"]

RECORD_VERSION = 1
SCHEMA_TITLE = f"faultlab run record (version {RECORD_VERSION})"


class RecordError(FaultlabError):
    """A ``result.json`` that is not a readable run record (damaged, foreign, or of another
    version). Its message is one line: the file, what is wrong, and a hint."""


class RunRecord(Part):
    """Everything a run concluded: the verdict, every clause with its measured figure and
    bound, each fault's inject and revert, the workloads' figures, the history checks, and
    how to reproduce the run."""

    model_config = ConfigDict(title=SCHEMA_TITLE)  # merged with Part's

    record_version: Literal[1] = Field(description="Version of this record's format.")
    faultlab_version: str = Field(description="The faultlab version that ran the experiment.")
    experiment: ExperimentRef = Field(description="The experiment file that was run.")
    run_dir: str = Field(description="The run directory, as faultlab was given or made it.")
    seed: int = Field(description="The seed of every random choice (replay with --seed).")
    command: list[str] = Field(description="The command line that started the run.")
    status: Status = Field(description="The verdict: held, violated, steady_state_failed, "
                           "probe_error (an SLO could not be judged: its probe could not "
                           "ask; nothing was breached), aborted, interrupted, revert_failed "
                           "or error.")
    exit_code: int = Field(description="The exit code of faultlab run for this status: 0 "
                           "held, 1 violated, 3 aborted or interrupted, 4 probe error, revert "
                           "failed or error.")
    reasons: list[str] = Field(description="Why the run ended as it did, most important "
                               "first; warnings start with 'warning: '.")
    clauses: list[ClauseEntry] = Field(description="Every hypothesis clause, in the "
                                       "hypothesis's order.")
    faults: list[FaultEntry] = Field(description="Every planned fault, in plan order.")
    workloads: dict[str, WorkloadEntry] = Field(description="Every workload by name, in the "
                                                "experiment's order.")
    checks: list[CheckEntry] = Field(description="Every check of a recorded history.")
    observations: dict[str, ObservedProxy] = Field(
        default_factory=dict, description="What reached each dependency behind a proxy "
        "target with observe: true, by target name.")
    budgets: list[BudgetEntry] = Field(
        default_factory=list, description="The error budget each SLO spent (every SLO whose "
        "kind counts requests; consumed only for those with a budget period).")

    @model_validator(mode="after")
    def _exit_code_matches(self) -> RunRecord:
        if self.exit_code != int(self.status.exit_code):
            raise ValueError(f"exit_code {self.exit_code} does not go with status "
                             f"'{self.status.value}' (exit code {int(self.status.exit_code)})")
        return self

    def _first_measured(self) -> WorkloadEntry | None:
        return next((w for w in self.workloads.values() if w.measured), None)

    @computed_field(description="The first measured workload's totals (also in "  # type: ignore[prop-decorator]
                    "workloads); null if none was measured.")
    @property
    def workload(self) -> WorkloadTotals | None:
        w = self._first_measured()
        return w.totals if w is not None else None

    @computed_field(description="The first measured workload's generator figures (also "  # type: ignore[prop-decorator]
                    "in workloads); null if none was measured.")
    @property
    def generator(self) -> GeneratorFigures | None:
        w = self._first_measured()
        return w.generator if w is not None else None

    @computed_field(description="The first recorded history's counts (also in workloads); "  # type: ignore[prop-decorator]
                    "null if no workload recorded one.")
    @property
    def history(self) -> HistoryFigures | None:
        return next((w.history for w in self.workloads.values() if w.history is not None),
                    None)

    @classmethod
    def from_verdict(cls, verdict: Verdict, loaded: LoadedExperiment, run_dir: Path,
                     seed: int, argv: list[str], *, drop_unknown: bool = True) -> RunRecord:
        """The record of a finished run. A workload figure the record does not know is left
        out with a warning (``drop_unknown``), rather than losing the run's result."""
        from faultlab.record.build import record_from_verdict

        return record_from_verdict(verdict, loaded, run_dir, seed, argv,
                                   drop_unknown=drop_unknown)

    @classmethod
    def load(cls, path: Path) -> RunRecord:
        """Read ``result.json``; :class:`RecordError` (one line) if it is not a run record."""
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise RecordError(f"{path}: no such file (hint: a run writes result.json when "
                              "it ends; pass a finished run's directory)") from None
        except (OSError, UnicodeDecodeError) as e:
            raise RecordError(f"{path}: cannot be read: {e} (hint: check the file's "
                              "permissions, or re-run the experiment)") from None
        try:
            raw = json.loads(text)
        except json.JSONDecodeError as e:
            raise RecordError(f"{path}:{e.lineno}:{e.colno}: not JSON: {e.msg} (hint: the run "
                              "may have been killed while writing it; re-run the experiment, "
                              "or remove result.json to report from the journal alone)"
                              ) from None
        return cls.from_json_value(raw, str(path))

    @classmethod
    def from_json_value(cls, raw: Any, source: str = "result.json") -> RunRecord:
        """A record from parsed JSON; ``source`` names it in error messages."""
        _check_version(raw, source)
        try:
            return cls.model_validate(raw)
        except ValidationError as e:
            raise RecordError(_first_problem(e, source)) from None


def _check_version(raw: Any, source: str) -> None:
    hint = "hint: pass the result.json of a faultlab run"
    if not isinstance(raw, dict):
        raise RecordError(f"{source}: not a faultlab run record: the file holds "
                          f"{_json_kind(raw)}, not an object ({hint})")
    version = raw.get("record_version")
    if version == RECORD_VERSION:
        return
    if "record_version" not in raw:
        if isinstance(raw.get("faultlab_version"), str):
            raise RecordError(f"{source}: written by faultlab {raw['faultlab_version']} "
                              "before run records had a version (hint: re-run the experiment "
                              "with this faultlab)")
        raise RecordError(f"{source}: not a faultlab run record: no record_version ({hint})")
    if isinstance(version, int) and not isinstance(version, bool) and version > RECORD_VERSION:
        raise RecordError(f"{source}: record version {version} is newer than this faultlab "
                          f"reads ({RECORD_VERSION}) (hint: upgrade faultlab)")
    raise RecordError(f"{source}: record_version {json.dumps(version)} is not a version "
                      f"faultlab knows (expected {RECORD_VERSION}; {hint})")


def _json_kind(value: Any) -> str:
    if isinstance(value, list):
        return "an array"
    if isinstance(value, str):
        return "a string"
    if value is None:
        return "null"
    return "a number" if isinstance(value, int | float) and not isinstance(value, bool) \
        else "a boolean"


def _location(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif part.startswith(("function-", "function_")) or "[" in part:
            continue  # pydantic's validator frames, not keys of the file
        else:
            out += f".{part}" if out else part
    return out or "(top level)"


def _first_problem(e: ValidationError, source: str) -> str:
    errors = e.errors(include_url=False)
    first = errors[0]
    where = _location(tuple(first["loc"]))
    more = f" (and {len(errors) - 1} more problems)" if len(errors) > 1 else ""
    message = str(first["msg"]).removeprefix("Value error, ")
    return (f"{source}: {where}: {message}{more} (hint: the file was changed or damaged "
            "after the run; re-run the experiment)")


def record_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of ``result.json``."""
    doc = RunRecord.model_json_schema(mode="serialization")
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", **doc,
            "title": SCHEMA_TITLE}
