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
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path as FsPath
from typing import Any

import yaml
from pydantic import ValidationError

from faultlab.experiment.errors import ExperimentError, Problem, format_path, problems_from
from faultlab.experiment.model import Experiment, experiment_model
from faultlab.experiment.semantic import check
from faultlab.experiment.yamlpos import Converter, Path, Positions, YamlProblem, compose

__all__ = ["LoadedExperiment", "format_path", "load_experiment", "load_experiment_text"]

_VARS: Path = ("vars",)


@dataclass(frozen=True)
class LoadedExperiment:
    experiment: Experiment
    source: str  # file name as given
    sha256: str  # of the file's bytes, for reproducing a run
    secrets: Mapping[str, str]  # value -> env NAME it came from; redacted in every output
    variables: Mapping[str, object]


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
    secrets: dict[str, str] = {}
    try:
        data, positions, variables = _to_python(text, overrides or {}, secrets)
    except YamlProblem as p:
        raise ExperimentError([Problem(source, p.line, p.column, format_path(p.path),
                                       p.message, p.hint)]) from None
    try:
        experiment = experiment_model().model_validate(data)
    except ValidationError as e:
        raise ExperimentError(problems_from(e, source, positions, data)) from None
    problems = [Problem(source, *positions.of(path, key=key), format_path(path), msg, hint)
                for path, msg, hint, key in check(experiment, data)]
    if problems:
        raise ExperimentError(problems)
    return LoadedExperiment(experiment, source, sha256, dict(secrets), variables)


def _to_python(text: str, overrides: Mapping[str, str], secrets: dict[str, str]
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


def _variables(root: yaml.MappingNode, overrides: Mapping[str, str], secrets: dict[str, str]
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
