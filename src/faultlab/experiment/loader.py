"""The only place YAML becomes an :class:`~faultlab.experiment.model.Experiment`.

Loading is all-or-nothing: either a fully validated experiment comes back, or
:class:`ExperimentError` with every problem as a one-line message (file:line:column, what is
wrong, a hint). No other exception escapes for any input text (a property test feeds it
random YAML-ish input).
"""

from __future__ import annotations

import hashlib
import sys
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path as FsPath
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from faultlab.experiment.errors import ExperimentError, Problem
from faultlab.experiment.model import FAULT_KINDS, Experiment
from faultlab.experiment.semantic import check
from faultlab.experiment.yamlpos import Converter, Path, Positions, YamlProblem, compose, suggest

__all__ = ["LoadedExperiment", "format_path", "load_experiment", "load_experiment_text"]


@dataclass(frozen=True)
class LoadedExperiment:
    experiment: Experiment
    source: str  # file name as given
    sha256: str  # of the file's bytes, for reproducing a run
    secrets: frozenset[str]  # values taken from the environment; redacted in every output
    variables: Mapping[str, object]


def format_path(path: Path) -> str:
    out = ""
    for p in path:
        out += f"[{p}]" if isinstance(p, int) else (f".{p}" if out else str(p))
    return out


def load_experiment(file: str | FsPath, overrides: Mapping[str, str] | None = None
                    ) -> LoadedExperiment:
    name = str(file)
    try:
        raw = FsPath(file).read_bytes()
    except OSError as e:
        raise ExperimentError([Problem(name, 1, 1, "", f"cannot read file: {e.strerror}",
                                       "check the path")]) from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        line = raw[: e.start].count(b"\n") + 1
        raise ExperimentError([Problem(name, line, 1, "", "file is not UTF-8 text")]) from None
    return load_experiment_text(text, name, overrides, sha256=hashlib.sha256(raw).hexdigest())


def load_experiment_text(text: str, source: str = "<experiment>",
                         overrides: Mapping[str, str] | None = None, sha256: str | None = None
                         ) -> LoadedExperiment:
    if sha256 is None:
        sha256 = hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()
    secrets: set[str] = set()
    try:
        data, positions, variables = _to_python(text, overrides or {}, secrets)
    except YamlProblem as p:
        raise ExperimentError([Problem(source, p.line, p.column, format_path(p.path),
                                       p.message, p.hint)]) from None
    try:
        experiment = Experiment.model_validate(data)
    except ValidationError as e:
        raise ExperimentError(_problems_from(e, source, positions, data)) from None
    problems = [Problem(source, *positions.of(path, key=key), format_path(path), msg, hint)
                for path, msg, hint, key in check(experiment, data)]
    if problems:
        raise ExperimentError(problems)
    return LoadedExperiment(experiment, source, sha256, frozenset(secrets), variables)


def _to_python(text: str, overrides: Mapping[str, str], secrets: set[str]
               ) -> tuple[Any, Positions, dict[str, object]]:
    if "\x00" in text:
        raise YamlProblem((), 1, 1, "the file contains a NUL byte", "is this a text file?")
    root = compose(text)
    if root is None:
        raise YamlProblem((), 1, 1, "the file is empty", "start from `faultlab demo`'s files")
    if not isinstance(root, yaml.MappingNode):
        raise YamlProblem((), root.start_mark.line + 1, root.start_mark.column + 1,
                          "an experiment must be a mapping of keys (name:, faults:, ...)")
    # Built-in variables; the file's vars and --var override them.
    variables: dict[str, object] = {"python": sys.executable}
    for key_node, value_node in root.value:
        if isinstance(key_node, yaml.ScalarNode) and key_node.value == "vars":
            raw_vars = Converter({}, secrets).convert(value_node, ("vars",), substitute=False)
            if isinstance(raw_vars, dict):
                variables.update(raw_vars)
    for name, value in overrides.items():
        variables[name] = value
    converter = Converter(variables, secrets)
    data = converter.convert(root)
    if isinstance(data, dict) and "vars" in data and isinstance(data["vars"], dict):
        data["vars"] = {**data["vars"], **overrides}
    return data, converter.positions, variables


def _problems_from(error: ValidationError, source: str, positions: Positions, data: Any
                   ) -> list[Problem]:
    problems: list[Problem] = []
    seen: set[tuple[int, int, str]] = set()
    for err in error.errors(include_url=False):
        loc = _data_path(tuple(err["loc"]), positions)
        kind = err["type"]
        if kind in ("union_tag_invalid", "union_tag_not_found"):
            loc = (*loc, "kind") if kind == "union_tag_invalid" else loc
        message, hint, key = _describe(err, loc, data)
        line, col = positions.of(loc, key=key)
        if (line, col, message) in seen:
            continue
        seen.add((line, col, message))
        problems.append(Problem(source, line, col, format_path(loc), message, hint))
        if kind == "union_tag_invalid":
            break
    return problems


def _data_path(loc: tuple[Any, ...], positions: Positions) -> Path:
    """Drop the pydantic-only parts of a location (union tags, validator names)."""
    path: list[str | int] = []
    for part in loc:
        candidate = (*path, part)
        if candidate in positions.values or candidate in positions.keys:
            path.append(part)
        elif isinstance(part, str) and (part in FAULT_KINDS or "[" in part or "-" in part):
            continue  # a discriminated-union tag or a function-validator label
        else:
            path.append(part)
    return tuple(path)


def _describe(err: Any, loc: Path, data: Any) -> tuple[str, str, bool]:
    """Message, hint, and whether it points at a key (vs a value)."""
    kind: str = err["type"]
    msg: str = err["msg"]
    if kind == "extra_forbidden":
        name = str(loc[-1])
        allowed = _allowed_keys(loc[:-1], data)
        hint = suggest(name, allowed) or (f"allowed here: {', '.join(allowed)}" if allowed else "")
        return f"unknown key '{name}'", hint, True
    if kind == "missing":
        return f"missing required key '{loc[-1]}'", "", False
    if kind == "union_tag_invalid":
        tag = str(err.get("ctx", {}).get("tag", ""))
        hint = suggest(tag, FAULT_KINDS) or f"kinds: {', '.join(FAULT_KINDS)}"
        return f"unknown fault kind '{tag}'", hint, False
    if kind == "union_tag_not_found":
        return "a fault needs a kind", f"kinds: {', '.join(FAULT_KINDS)}", False
    for prefix in ("Value error, ", "Assertion failed, "):
        msg = msg.removeprefix(prefix)
    hint = ""
    if "; " in msg:
        msg, hint = msg.split("; ", 1)
    elif "(" in msg and msg.endswith(")"):
        msg, hint = msg[: msg.rindex("(")].rstrip(), msg[msg.rindex("(") + 1 : -1]
    if kind.endswith("_type") or kind.endswith("_parsing") or kind == "literal_error":
        value = err.get("input")
        if not isinstance(value, dict | list):
            msg = f"{msg}, got {value!r}"
    return msg[:1].lower() + msg[1:], hint, False


def _allowed_keys(path: Path, data: Any) -> list[str]:
    """The keys the model accepts at ``path`` (for did-you-mean hints)."""
    tp: Any = Experiment
    for part in path:
        tp = _step(tp, part)
        try:
            data = data[part]
        except (KeyError, IndexError, TypeError):
            data = None
        if _is_union(tp) and isinstance(data, dict):
            tp = _member_for(tp, data.get("kind"))
        if tp is None:
            return []
    tp = _unwrap(tp)
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        return sorted((f.alias or n) for n, f in tp.model_fields.items()
                      if n != "applies_to")
    return []


def _unwrap(tp: Any) -> Any:
    while True:
        origin = typing.get_origin(tp)
        if origin is typing.Annotated:
            tp = typing.get_args(tp)[0]
        elif origin in (typing.Union, types.UnionType):
            args = [a for a in typing.get_args(tp) if a is not type(None)]
            if len(args) != 1:
                return tp
            tp = args[0]
        else:
            return tp


def _is_union(tp: Any) -> bool:
    return typing.get_origin(_unwrap(tp)) in (typing.Union, types.UnionType)


def _member_for(tp: Any, kind: object) -> Any:
    """The member of a discriminated union whose ``kind`` literal is ``kind``."""
    for member in typing.get_args(_unwrap(tp)):
        field = getattr(member, "model_fields", {}).get("kind")
        if field is not None and kind in typing.get_args(field.annotation):
            return member
    return None


def _step(tp: Any, part: str | int) -> Any:
    tp = _unwrap(tp)
    origin = typing.get_origin(tp)
    if origin in (list, tuple) and isinstance(part, int):
        return typing.get_args(tp)[0]
    if origin is dict and isinstance(part, str):
        return typing.get_args(tp)[1]
    if origin in (typing.Union, types.UnionType):
        return None  # a fault: the path's next part is resolved by the caller via the data
    if isinstance(tp, type) and issubclass(tp, BaseModel) and isinstance(part, str):
        for name, f in tp.model_fields.items():
            if part in (name, f.alias):
                return f.annotation
    return None
