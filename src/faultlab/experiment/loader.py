"""The only place YAML becomes an :class:`~faultlab.experiment.model.Experiment`.

Loading is all-or-nothing: either a fully validated experiment comes back, or
:class:`ExperimentError` with every problem as a one-line message (file:line:column, what is
wrong, a hint). No other exception escapes for any input text (a property test feeds it
random YAML-ish input).

Variables: ``vars:`` are read first, in file order; a var may use ``${env:NAME}``, the built-in
``${python}`` and the vars above it. ``--var`` overrides replace file vars before they are
read (so an overridden var's environment variable need not exist).
"""

from __future__ import annotations

import hashlib
import re
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

_VARS: Path = ("vars",)


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
        before = raw[: e.start]
        line = before.count(b"\n") + 1
        column = len(before[before.rfind(b"\n") + 1:].decode("utf-8", "replace")) + 1
        raise ExperimentError([Problem(name, line, column, "",
                                       f"file is not UTF-8 text (byte 0x{raw[e.start]:02x})",
                                       "save the file as UTF-8")]) from None
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
        before = text[: text.index("\x00")]
        raise YamlProblem((), before.count("\n") + 1, len(before) - before.rfind("\n"),
                          "the file contains a NUL byte", "is this a text file?")
    root = compose(text)
    if root is None:
        raise YamlProblem((), 1, 1, "the file is empty", "start from `faultlab demo`'s files")
    if not isinstance(root, yaml.MappingNode):
        raise YamlProblem((), root.start_mark.line + 1, root.start_mark.column + 1,
                          "an experiment must be a mapping of keys (name:, faults:, ...)",
                          "write `name: my-experiment` and the other keys at the top level")
    variables = _variables(root, overrides, secrets)
    converter = Converter(variables, secrets, literal=frozenset({_VARS}))
    data = converter.convert(root)
    if isinstance(data.get("vars"), dict):
        data["vars"] = {name: variables[name] for name in (*data["vars"], *overrides)}
    return data, converter.positions, variables


def _variables(root: yaml.MappingNode, overrides: Mapping[str, str], secrets: set[str]
               ) -> dict[str, object]:
    """Built-ins and --var, then the file's vars in order (each may use those above it and the
    --var values; a file var that --var sets is not read at all)."""
    variables: dict[str, object] = {"python": sys.executable, **overrides}
    for key_node, value_node in root.value:
        if not (isinstance(key_node, yaml.ScalarNode) and key_node.value == "vars"
                and isinstance(value_node, yaml.MappingNode)):
            continue
        pairs = [(n.value, v) for n, v in value_node.value if isinstance(n, yaml.ScalarNode)]
        for i, (name, node) in enumerate(pairs):
            if name not in overrides:
                later = frozenset(n for n, _ in pairs[i + 1:]) - set(variables)
                converter = Converter(dict(variables), secrets, later=later)
                variables[name] = converter.convert(node, (*_VARS, name))
        break  # a second vars: is a duplicate key, reported by the main pass
    return variables


# --- pydantic's errors as one-line problems at file positions -------------------------------

_TYPE_LABELS = {"str": "a string", "int": "a number", "float": "a number", "bool": "true/false"}


def _problems_from(error: ValidationError, source: str, positions: Positions, data: Any
                   ) -> list[Problem]:
    problems: list[Problem] = []
    seen: set[tuple[int, int, str]] = set()
    unions: dict[Path, list[str]] = {}  # a value that matched no member of a plain union
    for err in error.errors(include_url=False):
        loc, labels = _data_path(tuple(err["loc"]), data)
        if labels and all(label in _TYPE_LABELS for label in labels):
            unions.setdefault(loc, []).append(labels[-1])
            if len(unions[loc]) > 1:
                continue
        kind = err["type"]
        if kind == "union_tag_invalid":
            loc = (*loc, "kind")
        message, hint, key = _describe(err, loc, data, labels)
        if kind in ("value_error", "assertion_error"):
            loc, hint = _named_key(loc, message, hint, data)
        line, col = positions.of(loc, key=key)
        if (line, col, message) in seen:
            continue
        seen.add((line, col, message))
        problems.append(Problem(source, line, col, format_path(loc), message, hint))
        if kind == "union_tag_invalid":
            break
    return [_merge_union(p, unions, data) for p in problems]


def _merge_union(problem: Problem, unions: dict[Path, list[str]], data: Any) -> Problem:
    for loc, labels in unions.items():
        if format_path(loc) == problem.path and len(labels) > 1:
            wanted = list(dict.fromkeys(_TYPE_LABELS[label] for label in labels))
            expected = ", ".join(wanted[:-1]) + f" or {wanted[-1]}"
            message = f"expected {expected}, got {_shown(_at(data, loc))}"
            return Problem(problem.file, problem.line, problem.column, problem.path, message,
                           "a variable holds one plain value")
    return problem


def _at(data: Any, path: Path) -> Any:
    for part in path:
        try:
            data = data[part]
        except (KeyError, IndexError, TypeError):
            return None
    return data


def _data_path(loc: tuple[Any, ...], data: Any) -> tuple[Path, tuple[str, ...]]:
    """Split a pydantic location into the path in the file and pydantic-only labels (union
    members such as ``latency`` or ``int``, validator names such as ``function-after[...]``).

    A part is a label when the data there cannot hold it: the value is not a mapping, or the
    part names a union member rather than a key."""
    path: list[str | int] = []
    labels: list[str] = []
    cur: Any = data
    for part in loc:
        if (isinstance(cur, dict) and part in cur) or (
                isinstance(cur, list) and isinstance(part, int) and 0 <= part < len(cur)):
            path.append(part)
            cur = cur[part]
        elif isinstance(part, str) and (not isinstance(cur, dict) or part in FAULT_KINDS
                                        or "[" in part):
            labels.append(part)
        else:
            path.append(part)  # a missing key
            cur = None
    return tuple(path), tuple(labels)


def _named_key(loc: Path, message: str, hint: str, data: Any) -> tuple[Path, str]:
    """Make a check about a whole mapping precise.

    If its message names exactly one of the mapping's keys (e.g. "an SLO window must be at
    least 1s"), it is about that key: point at it, if the file sets it. If it asks for exactly
    one of several keys, say which ones the file sets."""
    here = _at(data, loc)
    if not isinstance(here, dict):
        return loc, hint
    named = [k for k in _allowed_keys(loc, data)
             if re.search(rf"(?<![\w-]){re.escape(k)}(?![\w-])", message)]
    if len(named) == 1 and named[0] in here:
        return (*loc, named[0]), hint
    if "exactly one of" in message and len(named) > 1 and not hint:
        given = [k for k in here if k in named and here[k] is not None]
        empty = [k for k in here if k in named and here[k] is None]
        if len(given) > 1:
            hint = f"this sets {' and '.join(given)}; keep one"
        elif empty:
            hint = f"{' and '.join(empty)} is empty"
        else:
            hint = f"add one of {', '.join(named)}"
    return loc, hint


def _shown(value: object) -> str:
    if value is None:
        return "an empty value"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _name_pattern() -> str:
    from faultlab.experiment.model import Name

    for meta in typing.get_args(Name)[1:]:
        pattern = getattr(meta, "pattern", None)
        if pattern is None:
            pattern = next((getattr(m, "pattern", None) for m in getattr(meta, "metadata", ())
                            if getattr(m, "pattern", None)), None)
        if pattern:
            return str(pattern)
    return ""


_NAME_PATTERN = _name_pattern()


def _describe(err: Any, loc: Path, data: Any, labels: tuple[str, ...]
              ) -> tuple[str, str, bool]:
    """Message, hint, and whether it points at a key (vs a value)."""
    kind: str = err["type"]
    msg: str = err["msg"]
    value = err.get("input")
    ctx = err.get("ctx") or {}
    if kind == "extra_forbidden":
        name = str(loc[-1])
        allowed = _allowed_keys(loc[:-1], data)
        hint = suggest(name, allowed) or (f"allowed here: {', '.join(allowed)}" if allowed else "")
        return f"unknown key '{name}'", hint, True
    if kind == "missing":
        return f"missing required key '{loc[-1]}'", "", False
    if kind == "union_tag_invalid":
        tag = str(ctx.get("tag", ""))
        hint = suggest(tag, FAULT_KINDS) or f"kinds: {', '.join(FAULT_KINDS)}"
        return f"unknown fault kind '{tag}'", hint, False
    if kind == "union_tag_not_found":
        return "a fault needs a kind", f"kinds: {', '.join(FAULT_KINDS)}", False
    if kind == "literal_error" and loc == ("version",):
        return (f"unsupported file format version {_shown(value)}",
                "this faultlab reads version: 1 files", False)
    if kind in ("literal_error", "enum"):
        choices = re.findall(r"'([^']*)'", str(ctx.get("expected", "")))
        same = [c for c in choices if c.lower() == str(value).lower()]
        hint = f"write '{same[0]}'" if same else (suggest(str(value), choices)
                                                 or f"one of: {', '.join(choices)}")
        return f"{_shown(value)} is not allowed here", hint, False
    if kind == "string_pattern_mismatch" and ctx.get("pattern") == _NAME_PATTERN:
        return (f"{_shown(value)} is not a valid name",
                "use letters, digits, '.', '_' and '-', starting with a letter or digit "
                "(at most 63)", "[key]" in labels)
    if kind in ("model_type", "model_attributes_type", "dict_type"):
        allowed = _allowed_keys(loc, data)
        return (f"expected a mapping (key: value), got {_shown(value)}",
                f"keys here: {', '.join(allowed)}" if allowed else "", False)
    if kind in ("list_type", "tuple_type"):
        return (f"expected a list, got {_shown(value)}",
                "write one '- item' per line, or [a, b]", False)
    if kind == "string_type" and isinstance(value, int | float | bool):
        return (f"expected text, got {_shown(value)}",
                "put the value in quotes; YAML reads it as a number or true/false", False)
    bounds = {"greater_than_equal": ("ge", "at least"), "greater_than": ("gt", "above"),
              "less_than_equal": ("le", "at most"), "less_than": ("lt", "below")}
    if kind in bounds:
        name, words = bounds[kind]
        return f"must be {words} {ctx.get(name)}, got {_shown(value)}", "", False
    for prefix in ("Value error, ", "Assertion failed, "):
        msg = msg.removeprefix(prefix)
    hint = ""
    if "; " in msg:
        msg, hint = msg.split("; ", 1)
    elif msg.endswith(")") and "(" in msg and not msg[msg.rindex("(") + 1:].startswith("or "):
        msg, hint = msg[: msg.rindex("(")].rstrip(), msg[msg.rindex("(") + 1 : -1]
    if kind.endswith("_type") or kind.endswith("_parsing"):
        msg = f"{msg}, got {_shown(value)}"
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
