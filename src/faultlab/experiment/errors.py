"""Errors in experiment files: each is one line with file:line:column, what, and a hint.

Also the translation of pydantic's validation errors into such problems: pydantic locates an
error by model path (with union-member and validator labels mixed in) and words it for
programmers; users need the line and column of what they wrote and a message in the file's
own vocabulary, with a did-you-mean where one helps.
"""

from __future__ import annotations

import contextvars
import re
import types
import typing
from collections.abc import Callable
from typing import Any

import msgspec
from pydantic import BaseModel, ValidationError

from faultlab.errors import FaultlabError
from faultlab.experiment.types import Name
from faultlab.experiment.yamlpos import Path, Positions, suggest
from faultlab.plugins import ByKind, Lazy

__all__ = ["ExperimentError", "Locate", "Problem", "format_path", "problems_from"]


class Problem(msgspec.Struct, frozen=True):
    """One mistake in an input file, located precisely."""

    file: str
    line: int  # 1-based
    column: int  # 1-based
    path: str  # e.g. faults[0].delay; empty for the document itself
    message: str
    hint: str = ""
    #: valid, but probably not what was meant: shown, and the file is still used
    warning: bool = False

    def __str__(self) -> str:
        where = f"{self.path}: " if self.path else ""
        hint = f" (hint: {self.hint})" if self.hint else ""
        what = "warning: " if self.warning else ""
        text = f"{self.file}:{self.line}:{self.column}: {where}{what}{self.message}{hint}"
        # One problem, one line, whatever a key or a file name in the message contains.
        return text.translate(_ONE_LINE)


# Every character str.splitlines() breaks at, spelled as an escape.
_ONE_LINE = {ord(c): ascii(c)[1:-1] for c in "\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029"}


class ExperimentError(FaultlabError):
    """The experiment file is invalid; ``problems`` holds every mistake found, in file order."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = sorted(problems, key=lambda p: (p.line, p.column, p.message))
        super().__init__("\n".join(str(p) for p in self.problems))


def format_path(path: Path) -> str:
    out = ""
    for p in path:
        out += f"[{p}]" if isinstance(p, int) else (f".{p}" if out else str(p))
    return out


# --- pydantic's errors as one-line problems at file positions -------------------------------

_TYPE_LABELS = {"str": "a string", "int": "a number", "float": "a number", "bool": "true/false"}


#: where a problem at a path points and its hint: (path, line, column, at a key, hint) ->
#: (line, column, hint); the loader's points into ``${var}`` and says what the var holds
Locate = Callable[[Path, int, int, bool, str], tuple[int, int, str]]


def _as_is(path: Path, line: int, column: int, key: bool, hint: str) -> tuple[int, int, str]:
    return line, column, hint


#: the model of the file whose errors are being described (default: the experiment's)
_ROOT: contextvars.ContextVar[type[BaseModel] | None] = contextvars.ContextVar("root",
                                                                             default=None)


def problems_from(error: ValidationError, source: str, positions: Positions, data: Any,
                  locate: Locate = _as_is, model: type[BaseModel] | None = None
                  ) -> list[Problem]:
    """Pydantic's errors as problems at file positions, in words for people (``model``: the
    file's model, for did-you-mean hints; the experiment's by default)."""
    token = _ROOT.set(model)
    try:
        return _problems(error, source, positions, data, locate)
    finally:
        _ROOT.reset(token)


def _problems(error: ValidationError, source: str, positions: Positions, data: Any,
              locate: Locate) -> list[Problem]:
    problems: list[Problem] = []
    first_at: dict[Path, int] = {}  # index in problems of the first problem at a path
    seen: set[tuple[int, int, str]] = set()
    unions: dict[Path, list[str]] = {}  # a value that matched no member of a plain union
    for err in error.errors(include_url=False):
        loc, labels = _data_path(tuple(err["loc"]), data, missing=err["type"] == "missing")
        if labels and all(label in _TYPE_LABELS for label in labels):
            unions.setdefault(loc, []).append(labels[-1])
            if len(unions[loc]) > 1:
                continue  # one problem per value, reworded below
        kind = err["type"]
        if kind == "union_tag_invalid":
            loc = (*loc, "kind")
        message, hint, key = _describe(err, loc, data, labels)
        key = key or "[key]" in labels  # a mapping's key is wrong, not its value
        if kind in ("value_error", "assertion_error"):
            loc, hint = _named_key(loc, message, hint, data)
        line, col, hint = locate(loc, *positions.of(loc, key=key), key, hint)
        if (line, col, message) in seen:
            continue
        seen.add((line, col, message))
        first_at.setdefault(loc, len(problems))
        problems.append(Problem(source, line, col, format_path(loc), message, hint))
        if kind == "union_tag_invalid":
            break  # pydantic's other errors for this fault are about the wrong kind
    for loc, members in unions.items():
        if len(members) > 1 and loc in first_at:
            first = problems[first_at[loc]]
            wanted = list(dict.fromkeys(_TYPE_LABELS[m] for m in members))
            message = (f"expected {', '.join(wanted[:-1])} or {wanted[-1]}, "
                       f"got {_shown(_at(data, loc))}")
            hint = "a variable holds one plain value" if loc[:1] == ("vars",) else ""
            problems[first_at[loc]] = Problem(source, first.line, first.column, first.path,
                                              message, hint)
    return problems


def _at(data: Any, path: Path) -> Any:
    for part in path:
        try:
            data = data[part]
        except (KeyError, IndexError, TypeError):
            return None
    return data


def _data_path(loc: tuple[Any, ...], data: Any, missing: bool = False
               ) -> tuple[Path, tuple[str, ...]]:
    """Split a pydantic location into the path in the file and pydantic-only labels (union
    members such as ``latency`` or ``int``, validator names such as ``function-after[...]``).

    A part is a label when the data there cannot hold it: the value is not a mapping, or the
    part names a union member rather than a key. The last part of a ``missing`` error is
    the missing key, even when it is spelled like a union member (``command``)."""
    path: list[str | int] = []
    labels: list[str] = []
    cur: Any = data
    for i, part in enumerate(loc):
        if missing and i == len(loc) - 1 and isinstance(cur, dict):
            path.append(part)
        elif (isinstance(cur, dict) and part in cur) or (
                isinstance(cur, list) and isinstance(part, int) and 0 <= part < len(cur)):
            path.append(part)
            cur = cur[part]
        elif isinstance(part, str) and (not isinstance(cur, dict) or part in _kind_names()
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
    """The pattern of :data:`~faultlab.experiment.model.Name`, to recognise its errors."""
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
        what, names = _union_kinds(loc)
        hint = suggest(tag, names) or f"kinds: {', '.join(names)}"
        return f"unknown {what} kind '{tag}'", hint, False
    if kind == "union_tag_not_found":
        what, names = _union_kinds(loc)
        return f"a {what} needs a kind", f"kinds: {', '.join(names)}", False
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
    if kind in ("int_parsing", "int_from_float"):
        return f"expected a whole number, got {_shown(value)}", "", False
    if kind == "float_parsing":
        return f"expected a number, got {_shown(value)}", "", False
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
    from faultlab.experiment.model import experiment_model

    tp: Any = _ROOT.get() or experiment_model()
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
                      )
    return []


def _unwrap(tp: Any) -> Any:
    while True:
        origin = typing.get_origin(tp)
        if origin is typing.Annotated:
            if _by_kind(tp) is not None:
                return tp  # a field of kinds: the union of every registered kind
            tp = typing.get_args(tp)[0]
        elif origin in (typing.Union, types.UnionType):
            args = [a for a in typing.get_args(tp) if a is not type(None)]
            if len(args) != 1:
                return tp
            tp = args[0]
        else:
            return tp


def _by_kind(tp: Any) -> ByKind | None:
    """The ByKind of a field of kinds (validated as the union of the registered kinds)."""
    if typing.get_origin(tp) is typing.Annotated:
        return next((m for m in typing.get_args(tp)[1:] if isinstance(m, ByKind)), None)
    return None


def _is_union(tp: Any) -> bool:
    tp = _unwrap(tp)
    return _by_kind(tp) is not None or typing.get_origin(tp) in (typing.Union,
                                                                 types.UnionType)


def _member_for(tp: Any, kind: object) -> Any:
    """The member of a discriminated union whose ``kind`` literal is ``kind``."""
    by_kind = _by_kind(_unwrap(tp))
    if by_kind is not None:
        return by_kind.spec(kind)
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
            if part in (name, f.alias):  # a lazy section: the type it validates as
                lazy = next((m for m in f.metadata if isinstance(m, Lazy)), None)
                return f.annotation if lazy is None else lazy.resolve()
    return None


def _kind_names() -> frozenset[str]:
    """Every registered kind's name (they appear as labels in pydantic's error locations)."""
    from faultlab.faults.registry import FAULT_KINDS
    from faultlab.hosts import HOST_KINDS
    from faultlab.workload.spec import WORKLOAD_KINDS

    return frozenset((*FAULT_KINDS.names(), *HOST_KINDS.names(), *WORKLOAD_KINDS.names()))


def _union_kinds(loc: Path) -> tuple[str, list[str]]:
    """Which plug-in union a location is in: (what, its kind names)."""
    from faultlab.faults.registry import FAULT_KINDS
    from faultlab.hosts import HOST_KINDS
    from faultlab.workload.spec import WORKLOAD_KINDS

    top = loc[0] if loc else "faults"
    if top == "hosts":
        return "host", list(HOST_KINDS.names())
    if top == "workloads":
        return "workload", list(WORKLOAD_KINDS.names())
    return "fault", list(FAULT_KINDS.names())
