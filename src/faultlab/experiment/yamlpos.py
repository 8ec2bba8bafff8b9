"""YAML to plain Python values, remembering where every key and value sits in the file.

PyYAML's composer gives nodes with marks; we build the Python value ourselves so that we can
(1) record positions by path, (2) refuse duplicate keys (PyYAML silently keeps the last one),
(3) substitute ``${var}`` and ``${env:NAME}`` in scalars, keeping the scalar's position.
"""

from __future__ import annotations

import difflib
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import yaml

Path = tuple[str | int, ...]

_VAR = re.compile(r"\$\{([^}]*)\}")
_BOOL_OR_NULL = {"null", "~", "true", "false", "yes", "no", "on", "off"}


class YamlProblem(Exception):
    def __init__(self, path: Path, line: int, column: int, message: str, hint: str = "") -> None:
        super().__init__(message)
        self.path, self.line, self.column = path, line, column
        self.message, self.hint = message, hint


@dataclass
class Positions:
    """1-based (line, column) of each value, and of each mapping key, by path."""

    values: dict[Path, tuple[int, int]] = field(default_factory=dict)
    keys: dict[Path, tuple[int, int]] = field(default_factory=dict)

    def of(self, path: Path, *, key: bool = False) -> tuple[int, int]:
        """The position of ``path`` or, if it is absent, of its nearest present ancestor."""
        if key and path in self.keys:
            return self.keys[path]
        p = path
        while p:
            if p in self.values:
                return self.values[p]
            p = p[:-1]
        return self.values.get((), (1, 1))


def suggest(word: str, choices: list[str] | tuple[str, ...]) -> str:
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f"did you mean '{close[0]}'?" if close else ""


def _mark(node: yaml.Node) -> tuple[int, int]:
    return node.start_mark.line + 1, node.start_mark.column + 1


class Converter:
    """Turns a composed YAML node tree into Python values with :class:`Positions`."""

    def __init__(self, variables: Mapping[str, object], secrets: set[str]) -> None:
        self.variables = variables
        self.secrets = secrets  # values read from the environment: redacted from every output
        self.positions = Positions()

    def convert(self, node: yaml.Node, path: Path = (), substitute: bool = True) -> Any:
        self.positions.values[path] = _mark(node)
        if isinstance(node, yaml.MappingNode):
            out: dict[str, Any] = {}
            for key_node, value_node in node.value:
                if not isinstance(key_node, yaml.ScalarNode):
                    raise YamlProblem(path, *_mark(key_node), "a key must be a plain word")
                key = key_node.value
                if key == "<<":
                    raise YamlProblem(path, *_mark(key_node), "merge keys (<<) are not supported",
                                      "repeat the keys, or use ${vars}")
                if key in out:
                    raise YamlProblem((*path, key), *_mark(key_node), f"duplicate key '{key}'",
                                      "each key may appear once in a mapping")
                self.positions.keys[(*path, key)] = _mark(key_node)
                out[key] = self.convert(value_node, (*path, key), substitute)
            return out
        if isinstance(node, yaml.SequenceNode):
            return [self.convert(v, (*path, i), substitute) for i, v in enumerate(node.value)]
        assert isinstance(node, yaml.ScalarNode)
        return self._scalar(node, path, substitute)

    def _scalar(self, node: yaml.ScalarNode, path: Path, substitute: bool) -> Any:
        text: str = node.value
        if substitute and "${" in text:
            whole = _VAR.fullmatch(text)
            text = _VAR.sub(lambda m: str(self._lookup(m.group(1), node, path)), text)
            if whole and node.style is None:
                value = self._lookup(whole.group(1), node, path)
                if isinstance(value, str) and value.lower() not in _BOOL_OR_NULL:
                    return _plain(value)
                return value
            return text
        if node.tag == "tag:yaml.org,2002:str" or node.style is not None:
            return text
        loader = yaml.SafeLoader("")
        try:
            return loader.construct_object(node, deep=True)
        except yaml.constructor.ConstructorError as e:
            raise YamlProblem(path, *_mark(node),
                              f"cannot read value {text!r}: {e.problem}") from None

    def _lookup(self, name: str, node: yaml.Node, path: Path) -> object:
        name = name.strip()
        if name.startswith("env:"):
            env = name[4:]
            if env not in os.environ:
                raise YamlProblem(path, *_mark(node), f"environment variable {env} is not set",
                                  f"export {env}=... before running")
            self.secrets.add(os.environ[env])
            return os.environ[env]
        if name not in self.variables:
            known = sorted(self.variables)
            hint = suggest(name, known) or (f"defined vars: {', '.join(known)}" if known
                                            else "define it under vars: or pass --var NAME=VALUE")
            raise YamlProblem(path, *_mark(node), f"unknown variable ${{{name}}}", hint)
        return self.variables[name]


def _plain(text: str) -> object:
    """Resolve a substituted plain scalar the way YAML would (so ``${port}`` can be an int)."""
    try:
        value = yaml.safe_load(text)
    except yaml.YAMLError:
        return text
    return value if isinstance(value, int | float | str) and not isinstance(value, bool) else text


def compose(text: str) -> yaml.Node | None:
    try:
        return yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        problem = (e.problem or "invalid YAML").strip()
        raise YamlProblem((), line, col, f"invalid YAML: {problem}",
                          "check indentation, quoting and colons") from None
    except yaml.YAMLError as e:
        raise YamlProblem((), 1, 1, f"invalid YAML: {e}") from None
