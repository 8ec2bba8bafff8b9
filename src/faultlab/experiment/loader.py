"""The only place YAML becomes an :class:`~faultlab.experiment.model.Experiment`.

Loading is all-or-nothing: either a fully validated experiment comes back (with warnings
about values that are valid but probably not meant), or :class:`ExperimentError` with every
problem as a one-line message (file:line:column, what is wrong, a hint). No other exception
escapes for any input (a property test feeds it random YAML-ish input), and no input takes
more than linear time: the file is at most :data:`MAX_FILE_BYTES` of a regular file (a FIFO,
a device or a directory is refused before reading), nesting, values, substitutions and the
collections the checks compare are bounded (:mod:`.yamlpos`, :data:`LIMITS`).

Variables: ``vars:`` are read first, in file order; a var may use ``${env:NAME}``, the built-in
``${python}`` and the vars above it. ``--var`` overrides replace file vars before they are
read (so an overridden var's environment variable need not exist); an override must name a
var the file declares or uses. A problem in a value that holds ``${name}`` points at the
``${`` and says what the var holds and where it came from.
"""

from __future__ import annotations

import functools
import hashlib
import os
import stat
import sys
import types
import typing
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path as FsPath
from typing import Any

import msgspec
import yaml
from pydantic import BaseModel, ValidationError

from faultlab.experiment.errors import ExperimentError, Problem, format_path, problems_from
from faultlab.experiment.model import Experiment, experiment_model
from faultlab.experiment.semantic import check
from faultlab.experiment.types import Advice
from faultlab.experiment.yamlpos import (
    Budget,
    Converter,
    Path,
    Positions,
    VarUse,
    YamlProblem,
    compose,
    suggest,
    suggestions,
)

__all__ = ["LIMITS", "MAX_FILE_BYTES", "Document", "LoadedExperiment", "advice", "decode_text",
           "format_path", "load_document", "load_experiment", "load_experiment_text",
           "read_bounded", "read_document", "read_document_text"]

_VARS: Path = ("vars",)
_BUILTINS = ("python",)

#: the largest experiment file read (a generous hundred times a large real one)
MAX_FILE_BYTES = 1 << 20
#: most entries of the collections the checks compare with each other
LIMITS: Mapping[Path, tuple[int, str]] = {
    ("vars",): (1000, "vars"),
    ("targets",): (1000, "targets"),
    ("faults",): (1000, "faults"),
    ("schedule", "random", "faults"): (1000, "faults"),
    ("hosts",): (100, "hosts"),
    ("workloads",): (100, "workloads"),
    ("system", "services"): (100, "services"),
    ("slos",): (1000, "SLOs"),
    ("checks",): (100, "checks"),
    ("abort",): (100, "abort conditions"),
    **{("hypothesis", phase, "hold"): (1000, "SLOs") for phase in ("before", "during", "after")},
}


class LoadedExperiment(msgspec.Struct, frozen=True):
    experiment: Experiment
    source: str  # file name as given
    sha256: str  # of the file's bytes, for reproducing a run
    secrets: Mapping[str, str]  # value -> env NAME it came from; redacted in every output
    variables: Mapping[str, object]
    positions: Positions | None = None  # where each value sits in the file
    #: valid but probably not meant (``success_ratio: 0.99%``); shown by validate and run
    warnings: tuple[Problem, ...] = ()

    def locate(self, path: Path) -> str:
        """``file:line:col`` of a value, for located messages after loading."""
        line, col = self.positions.of(path) if self.positions is not None else (1, 1)
        return f"{self.source}:{line}:{col}"


def _problem(name: str, message: str, hint: str) -> ExperimentError:
    return ExperimentError([Problem(name, 1, 1, "", message, hint)])


def read_bounded(file: str | FsPath) -> bytes:
    """The bytes of a regular file of at most MAX_FILE_BYTES. Opened without blocking and
    checked before reading: a FIFO would block, /dev/zero never ends, a directory is no
    text."""
    name = str(file)
    try:
        fd = os.open(file, os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC)
    except OSError as e:
        raise _problem(name, f"cannot read file: {e.strerror}", "check the path") from None
    except ValueError:  # a NUL in the path
        raise _problem(name, "cannot read file: the path contains a NUL character",
                       "check the path") from None
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            what = ("a directory" if stat.S_ISDIR(mode) else "a FIFO (named pipe)"
                    if stat.S_ISFIFO(mode) else "a socket" if stat.S_ISSOCK(mode)
                    else "a device")
            raise _problem(name, f"cannot read file: it is {what}, not a regular file",
                           "give the path of an experiment file, e.g. experiment.yaml")
        chunks: list[bytes] = []
        size = 0
        while size <= MAX_FILE_BYTES:
            chunk = os.read(fd, MAX_FILE_BYTES + 1 - size)
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
    except OSError as e:
        raise _problem(name, f"cannot read file: {e.strerror}", "check the path") from None
    finally:
        os.close(fd)
    if size > MAX_FILE_BYTES:
        raise _too_large(name)
    return b"".join(chunks)


def _too_large(name: str) -> ExperimentError:
    return _problem(name, f"the file is larger than {MAX_FILE_BYTES >> 20} MiB, the most an "
                    "experiment file may be", "is this an experiment file? split a large "
                    "experiment into several")


def decode_text(name: str, raw: bytes) -> str:
    """UTF-8 text, or an ExperimentError at the line and column of the first bad byte."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        before = raw[: e.start]
        line = before.count(b"\n") + 1
        column = len(before[before.rfind(b"\n") + 1:].decode("utf-8", "replace")) + 1
        raise ExperimentError([Problem(name, line, column, "",
                                       f"file is not UTF-8 text (byte 0x{raw[e.start]:02x})",
                                       "save the file as UTF-8")]) from None
    return text


def load_experiment(file: str | FsPath, overrides: Mapping[str, str] | None = None
                    ) -> LoadedExperiment:
    raw = read_bounded(file)
    return load_experiment_text(decode_text(str(file), raw), str(file), overrides,
                                sha256=hashlib.sha256(raw).hexdigest())


M = typing.TypeVar("M", bound=BaseModel)
#: checks of a validated document across its parts, given the model, the data and the
#: secrets (value -> env NAME): (path, message, hint, at the key)
DocumentCheck = Callable[[Any, Any, Mapping[str, str]], list[tuple[Path, str, str, bool]]]
#: checks of the raw data before validation (e.g. collection sizes): (path, message, hint)
DocumentPrecheck = Callable[[Any], list[tuple[Path, str, str]]]
#: rewrites the raw data in place before validation, given the file's name (relative paths
#: in it are relative to the file): (path, message, hint, only a warning) problems
DocumentExpand = Callable[[Any, str], list[tuple[Path, str, str, bool]]]


class Document(msgspec.Struct, typing.Generic[M], frozen=True):
    """A faultlab file other than an experiment (a lab file, a canvas), loaded."""

    value: M
    source: str
    sha256: str
    secrets: Mapping[str, str]
    variables: Mapping[str, object]
    positions: Positions
    warnings: tuple[Problem, ...] = ()

    def locate(self, path: Path) -> str:
        line, col = self.positions.of(path)
        return f"{self.source}:{line}:{col}"


def read_document(file: str | FsPath, model: type[M],
                  overrides: Mapping[str, str] | None = None, *,
                  check: DocumentCheck | None = None,
                  precheck: DocumentPrecheck | None = None) -> Document[M]:
    raw = read_bounded(file)
    return read_document_text(decode_text(str(file), raw), str(file), model, overrides,
                              sha256=hashlib.sha256(raw).hexdigest(), check=check,
                              precheck=precheck)


def read_document_text(text: str, source: str, model: type[M],
                       overrides: Mapping[str, str] | None = None, *,
                       sha256: str | None = None, check: DocumentCheck | None = None,
                       precheck: DocumentPrecheck | None = None,
                       expand: DocumentExpand | None = None) -> Document[M]:
    """A file as ``model`` with the experiment file's discipline: bounded reading, vars and
    ``--var``, every problem one located line (ExperimentError), warnings for values valid
    but probably not meant; ``precheck`` sees the raw data, ``check`` the validated model
    and the data (checks across parts)."""
    if len(text) > MAX_FILE_BYTES:
        raise _too_large(source)
    if sha256 is None:
        sha256 = hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()
    secrets: dict[str, str] = {}
    with suggestions():
        try:
            reading = _Reading(text, dict(overrides or {}), secrets)
        except YamlProblem as p:
            raise _redacted([Problem(source, p.line, p.column, format_path(p.path),
                                     p.message, p.hint)], secrets) from None
        problems = reading.unknown_overrides(source)
        expanded: list[Problem] = []
        if expand is not None and not problems:
            expanded = [Problem(source, *reading.positions.of(path), format_path(path), msg,
                                hint, warning=warn)
                        for path, msg, hint, warn in expand(reading.data, source)]
            problems += [p for p in expanded if not p.warning]
        if precheck is not None:
            problems += [Problem(source, *reading.positions.of(path), format_path(path),
                                 msg, hint) for path, msg, hint in precheck(reading.data)]
        if problems:
            raise _redacted(problems, secrets)
        try:
            value = model.model_validate(reading.data)
        except ValidationError as e:
            raise _redacted(problems_from(e, source, reading.positions, reading.data,
                                          reading.at, model), secrets) from None
        if check is not None:
            problems = [reading.problem(source, path, msg, hint, key)
                        for path, msg, hint, key in check(value, reading.data, secrets)]
            if problems:
                raise _redacted(problems, secrets)
        warnings = [p for p in expanded if p.warning] + [
            Problem(source, *reading.positions.of(path), format_path(path), msg, hint,
                    warning=True) for path, msg, hint in advice(value, reading.data)]
    return Document(value, source, sha256, dict(secrets), reading.variables,
                    reading.positions, tuple(_redact(w, secrets) for w in warnings))


def load_document(file: str | FsPath, model: type[M],
                  overrides: Mapping[str, str] | None = None) -> M:
    """:func:`read_document`'s value alone (a lab file)."""
    return read_document(file, model, overrides).value


def load_experiment_text(text: str, source: str = "<experiment>",
                         overrides: Mapping[str, str] | None = None, sha256: str | None = None
                         ) -> LoadedExperiment:
    doc = read_document_text(text, source, experiment_model(), overrides, sha256=sha256,
                             check=_experiment_checks, expand=_expand)
    return LoadedExperiment(doc.value, doc.source, doc.sha256, doc.secrets, doc.variables,
                            doc.positions, doc.warnings)


def _expand(data: Any, source: str) -> list[tuple[Path, str, str, bool]]:
    """``slos:`` entries naming OpenSLO files become their SLOs (and probes)."""
    slos = data.get("slos") if isinstance(data, dict) else None
    if not (isinstance(slos, list) and any(isinstance(s, dict) and "openslo" in s
                                           for s in slos)):
        return []
    from faultlab.slo.openslo import expand_openslo

    return expand_openslo(data, source)


def _experiment_checks(experiment: Experiment, data: Any, secrets: Mapping[str, str]
                       ) -> list[tuple[Path, str, str, bool]]:
    problems = check(experiment, data)
    if any(secret in experiment.name for secret in secrets):
        # The name is in the run directory's name, junit.xml, reports and stdout.
        problems.append((("name",), "the name cannot come from ${env:...}, which marks a "
                         "secret", "write the name, or pass it with --var name=VALUE", False))
    return problems


# --- reading the YAML, with vars -----------------------------------------------------------

class _Later:
    """The names of the file's vars below the one being read (which it cannot use yet)."""

    def __init__(self, order: Mapping[str, int]) -> None:
        self.order, self.current = order, 0

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and self.order.get(name, -1) > self.current


class _Reading(msgspec.Struct):
    """The file as plain Python values, with positions and every ``${var}`` use."""

    text: str
    overrides: dict[str, str]
    secrets: dict[str, str]
    data: Any = None
    positions: Positions = msgspec.field(default_factory=Positions)
    variables: dict[str, object] = msgspec.field(default_factory=dict)
    declared: dict[str, tuple[int, int]] = msgspec.field(default_factory=dict)  # var -> at
    uses: dict[Path, list[VarUse]] = msgspec.field(default_factory=dict)
    used: set[str] = msgspec.field(default_factory=set)
    vars_at: tuple[int, int] | None = None  # the `vars:` key

    def __post_init__(self) -> None:
        if "\x00" in self.text:
            before = self.text[: self.text.index("\x00")]
            raise YamlProblem((), before.count("\n") + 1, len(before) - before.rfind("\n"),
                              "the file contains a NUL byte", "is this a text file?")
        root = compose(self.text, LIMITS)
        if root is None:
            raise YamlProblem((), 1, 1, "the file is empty",
                              "start from `faultlab demo`'s files")
        if not isinstance(root, yaml.MappingNode):
            raise YamlProblem((), root.start_mark.line + 1, root.start_mark.column + 1,
                              "the file must be a mapping of keys (name:, ...)",
                              "write `name: my-name` and the other keys at the top level")
        budget = Budget()
        self._read_vars(root, budget)
        converter = Converter(self.variables, self.secrets, literal=frozenset({_VARS}),
                              budget=budget, limits=LIMITS)
        data = converter.convert(root)
        if isinstance(data.get("vars"), dict):
            data["vars"] = {name: self.variables[name]
                            for name in (*data["vars"], *self.overrides)}
        self.data, self.positions = data, converter.positions
        self.uses.update(converter.uses)
        self.used |= converter.used

    def _read_vars(self, root: yaml.MappingNode, budget: Budget) -> None:
        """Built-ins and --var, then the file's vars in order (each may use those above it
        and the --var values; a file var that --var sets is not read at all)."""
        self.variables.update({"python": sys.executable, **self.overrides})
        for key_node, value_node in root.value:
            if not (isinstance(key_node, yaml.ScalarNode) and key_node.value == "vars"
                    and isinstance(value_node, yaml.MappingNode)):
                continue
            self.vars_at = (key_node.start_mark.line + 1, key_node.start_mark.column + 1)
            pairs = [(n.value, n, v) for n, v in value_node.value
                     if isinstance(n, yaml.ScalarNode)]
            order = {name: i for i, (name, _, _) in enumerate(pairs)}
            later = _Later(order)
            # One converter for every var: it reads `self.variables` as it grows, so each
            # var sees exactly the vars above it (a copy per var was quadratic).
            converter = Converter(self.variables, self.secrets, later=later, budget=budget)
            for i, (name, key, node) in enumerate(pairs):
                self.declared.setdefault(name, (key.start_mark.line + 1,
                                                key.start_mark.column + 1))
                if name not in self.overrides:
                    later.current = i
                    self.variables[name] = converter.convert(node, (*_VARS, name))
            self.used |= converter.used
            break  # a second vars: is a duplicate key, reported by the main pass

    def unknown_overrides(self, source: str) -> list[Problem]:
        """A --var the file neither declares nor uses is a typo (or the wrong file)."""
        known = sorted(set(self.declared) | {n for n in self.used if not n.startswith("env:")})
        out = []
        for name, value in self.overrides.items():
            if name in self.declared or name in self.used or name in _BUILTINS:
                continue
            hint = suggest(name, known) or (
                f"its variables: {', '.join(known)}" if known else "the file uses no variables")
            out.append(Problem(source, *(self.vars_at or (1, 1)), "vars",
                               f"--var {name}={value}: the file has no variable '{name}'",
                               hint))
        return out

    def at(self, path: Path, line: int, column: int, key: bool, hint: str
           ) -> tuple[int, int, str]:
        """Where a problem with the value at ``path`` points, and its hint: a value built
        from ``${var}`` points at the (first) ``${``, and the hint says what each var holds
        and where it came from."""
        uses = self.uses.get(path)
        if key or not uses:
            return line, column, hint
        notes = [self._origin(name) for name in dict.fromkeys(u.name for u in uses)]
        return (*uses[0].position, "; ".join([*notes, hint] if hint else notes))

    def problem(self, source: str, path: Path, message: str, hint: str, key: bool) -> Problem:
        line, column, hint = self.at(path, *self.positions.of(path, key=key), key, hint)
        return Problem(source, line, column, format_path(path), message, hint)

    def _origin(self, name: str) -> str:
        if name.startswith("env:"):
            return f"${{{name}}} is a secret from the environment"
        value = self.variables.get(name)
        shown = repr(value) if len(repr(value)) <= 50 else repr(value)[:47] + "..."
        if isinstance(value, str) and any(secret in value for secret in self.secrets):
            shown = "a value from ${env:...}"
        if name in self.overrides:
            return f"${{{name}}} is {shown}, from --var {name}"
        if name in self.declared:
            line, _ = self.declared[name]
            return f"${{{name}}} is {shown}, from vars.{name} on line {line}"
        return f"${{{name}}} is {shown}, built in"


# --- warnings: valid values that were probably not meant -----------------------------------

def advice(model: BaseModel, data: object, path: Path = ()) -> Iterator[tuple[Path, str, str]]:
    """Warnings ``(path, message, hint)`` from the :class:`~faultlab.experiment.types.Advice`
    of every field the file sets, given the validated ``model`` and the ``data`` it was
    validated from (the value as written is what the advice judges). Linear in the size."""
    if not isinstance(data, dict):
        return
    for name, info in type(model).model_fields.items():
        key = info.alias if info.alias is not None and info.alias in data else name
        if key not in data:
            continue
        value = getattr(model, name)
        check = _advice_of(type(model), name)
        if check is not None and value is not None:
            found = check(data[key])
            if found is not None:
                yield (*path, key), *found
        yield from _advise(value, data[key], (*path, key))


def _advise(value: object, raw: object, path: Path) -> Iterator[tuple[Path, str, str]]:
    if isinstance(value, BaseModel):
        yield from advice(value, raw, path)
    elif isinstance(value, dict) and isinstance(raw, dict):
        for k, v in value.items():
            if k in raw:
                yield from _advise(v, raw[k], (*path, k))
    elif isinstance(value, list) and isinstance(raw, list) and len(value) == len(raw):
        for i, (v, r) in enumerate(zip(value, raw, strict=True)):
            yield from _advise(v, r, (*path, i))


@functools.cache
def _advice_of(cls: type[BaseModel], name: str) -> Callable[[object], Any] | None:
    info = cls.model_fields[name]
    return _find_advice([*info.metadata, info.annotation])


def _find_advice(items: list[Any]) -> Callable[[object], Any] | None:
    """The Advice in a field's metadata, or in an ``Annotated`` under ``X | None``."""
    for item in items:
        if isinstance(item, Advice):
            return item.check
        origin = typing.get_origin(item)
        if origin is typing.Annotated or origin in (typing.Union, types.UnionType):
            args = typing.get_args(item)
            found = _find_advice([*args[1:], args[0]] if origin is typing.Annotated
                                 else list(args))
            if found is not None:
                return found
    return None


# --- secrets never reach a message, and no message is a page ----------------------------

#: the longest message and hint shown (a hint listing 1,000 target names, repeated for each
#: of 1,000 faults, made output quadratic in the size of the file)
MAX_MESSAGE, MAX_HINT = 400, 300


def _redact(problem: Problem, secrets: Mapping[str, str]) -> Problem:
    message, hint = problem.message, problem.hint
    for value, env in secrets.items():
        for spelling in {value, repr(value)[1:-1]}:
            message = message.replace(spelling, f"${{env:{env}}}")
            hint = hint.replace(spelling, f"${{env:{env}}}")
    message, hint = _bounded(message, MAX_MESSAGE), _bounded(hint, MAX_HINT)
    if (message, hint) == (problem.message, problem.hint):
        return problem
    return Problem(problem.file, problem.line, problem.column, problem.path, message, hint,
                   warning=problem.warning)


def _bounded(text: str, most: int) -> str:
    if len(text) <= most:
        return text
    cut = text.rfind(", ", 0, most - 5)
    return text[: cut if cut > most // 2 else most - 5] + ", ..."


def _redacted(problems: list[Problem], secrets: Mapping[str, str]) -> ExperimentError:
    return ExperimentError([_redact(p, secrets) for p in problems])
