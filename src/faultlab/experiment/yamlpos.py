"""YAML to plain Python values, remembering where every key and value sits in the file.

PyYAML's composer gives nodes with marks; we build the Python value ourselves so that we can
(1) record positions by path, (2) refuse duplicate keys (PyYAML silently keeps the last one),
(3) substitute ``${var}`` and ``${env:NAME}`` in scalars, pointing errors at the ``${``,
(4) keep scalars to the types an experiment uses (no dates, no binary, no Python objects), and
(5) survive hostile input: an alias that contains itself, aliases or ``${var}`` that expand a
few lines into millions of values, nesting that would exhaust the stack and collections of
absurd size are reported instead of recursing, exhausting memory or taking minutes, and
(6) keep values as written: a number is a number only in plain decimal (YAML 1.1 also reads
``017`` as 15, ``1:30`` as 90 and ``0x1F`` as 31; those stay text, for the model to read or
refuse), and text that is no text (a lone surrogate) is refused.

Every step is linear in the size of the input: positions are recorded once per value, the
position of a ``${var}`` inside a string is computed only for a value that has a problem,
and did-you-mean suggestions draw on a budget per load (:func:`suggestions`).
"""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Container, Iterator, Mapping
from contextvars import ContextVar
from typing import Any

import msgspec
import yaml

Path = tuple[str | int, ...]

_VAR = re.compile(r"(?<!\$)\$\{([^}]*)\}")  # `$${` is an escaped, literal `${`
_UNCLOSED = re.compile(r"\$\{[\w.:-]*")
_BOOL_OR_NULL = {"null", "~", "true", "false", "yes", "no", "on", "off"}
_CORE_TAGS = {f"tag:yaml.org,2002:{t}" for t in ("str", "int", "float", "bool", "null")}
_COLLECTION_TAGS = {"tag:yaml.org,2002:map", "tag:yaml.org,2002:seq"}
_TIMESTAMP = "tag:yaml.org,2002:timestamp"
#: an experiment has a few hundred values; anything near this is an alias bomb
MAX_VALUES = 50_000
#: collections nested deeper than this are refused (an experiment nests about 6 deep)
MAX_DEPTH = 64
#: characters that ``${var}`` substitutions may produce in all (a var doubling itself in a
#: chain of vars would otherwise grow to gigabytes)
MAX_SUBSTITUTED = 4 << 20
_DECIMAL_INT = re.compile(r"0|-?[1-9][0-9]{0,39}")
_DECIMAL_FLOAT = re.compile(r"-?(?:[0-9]{1,40}\.[0-9]{0,40}|\.[0-9]{1,40})(?:[eE][-+][0-9]{1,3})?")
_SURROGATE = re.compile("[\ud800-\udfff]")


class YamlProblem(Exception):
    def __init__(self, path: Path, line: int, column: int, message: str, hint: str = "") -> None:
        super().__init__(message)
        self.path, self.line, self.column = path, line, column
        self.message, self.hint = message, hint


class Positions(msgspec.Struct):
    """1-based (line, column) of each value, and of each mapping key, by path."""

    values: dict[Path, tuple[int, int]] = msgspec.field(default_factory=dict)
    keys: dict[Path, tuple[int, int]] = msgspec.field(default_factory=dict)

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


class _SuggestBudget(msgspec.Struct):
    left: int
    memo: dict[tuple[str, tuple[str, ...]], str] = msgspec.field(default_factory=dict)


_BUDGET: ContextVar[_SuggestBudget | None] = ContextVar("suggest_budget", default=None)
#: candidates compared for did-you-mean hints in one load; past it hints go without them
MAX_SUGGEST_WORK = 20_000


@contextlib.contextmanager
def suggestions(budget: int = MAX_SUGGEST_WORK) -> Iterator[None]:
    """Bound the work of :func:`suggest` inside: every candidate compared costs one unit
    of ``budget`` (the same question twice costs nothing). 1,000 faults naming mistyped
    targets among 1,000 would otherwise compare a million pairs of strings (36 µs each)."""
    token = _BUDGET.set(_SuggestBudget(budget))
    try:
        yield
    finally:
        _BUDGET.reset(token)


def suggest(word: str, choices: list[str] | tuple[str, ...]) -> str:
    """``did you mean 'x'?`` for the closest of ``choices``, or ''."""
    budget = _BUDGET.get()
    key = (word, tuple(choices))
    if budget is not None:
        if key in budget.memo:
            return budget.memo[key]
        if budget.left < len(choices):
            return ""
        budget.left -= len(choices)
    import difflib  # here: only a file with a mistake needs it

    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    hint = f"did you mean '{close[0]}'?" if close else ""
    if budget is not None:
        budget.memo[key] = hint
    return hint


def _mark(node: yaml.Node) -> tuple[int, int]:
    return node.start_mark.line + 1, node.start_mark.column + 1


def _render(value: object) -> str:
    """A variable's value as it reads inside a longer string (YAML spelling, not Python's)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else str(value)


#: shorter values from ${env:...} cannot be masked reliably (they occur everywhere)
MIN_SECRET = 3


class VarUse(msgspec.Struct, frozen=True):
    """A ``${name}`` in the file: which variable, and where (computed only when asked)."""

    name: str
    node: yaml.ScalarNode
    needle: str

    @property
    def position(self) -> tuple[int, int]:
        return _within(self.node, self.needle)


class Budget(msgspec.Struct):
    """What one load may still produce, shared by every converter of that load."""

    values: int = MAX_VALUES
    substituted: int = MAX_SUBSTITUTED


#: (most entries, what they are) of the collections at these paths
Limits = Mapping[Path, tuple[int, str]]


class Converter:
    """Turns a composed YAML node tree into Python values with :class:`Positions`.

    Subtrees at ``literal`` paths are converted without ``${...}`` substitution. ``later``
    holds the names of vars defined further down (usable only below them). ``uses`` records
    every ``${name}`` by the path of the value it is in, and ``used`` every name used.
    """

    def __init__(self, variables: Mapping[str, object], secrets: dict[str, str],
                 literal: frozenset[Path] = frozenset(), later: Container[str] = (),
                 budget: Budget | None = None, limits: Limits | None = None) -> None:
        self.variables = variables
        self.later = later  # vars defined further down (not yet usable while reading vars)
        self.secrets = secrets  # value -> NAME of what ${env:NAME} read: redacted from every output
        self.literal = literal
        self.budget = budget if budget is not None else Budget()
        self.limits: Limits = limits or {}
        self.positions = Positions()
        self.uses: dict[Path, list[VarUse]] = {}
        self.used: set[str] = set()
        self._open: set[int] = set()  # ids of the collection nodes being converted (cycles)
        self._constructor = yaml.SafeLoader("")

    def convert(self, node: yaml.Node, path: Path = (), substitute: bool = True) -> Any:
        self.budget.values -= 1
        if self.budget.values < 0:
            raise YamlProblem(path, *_mark(node),
                              f"the file expands to more than {MAX_VALUES} values",
                              "YAML aliases (*name) copy whole subtrees; repeat less")
        self.positions.values[path] = _mark(node)
        if path in self.literal:
            substitute = False
        if isinstance(node, yaml.MappingNode | yaml.SequenceNode):
            if node.tag not in _COLLECTION_TAGS:
                raise _unsupported_tag(node, path)
            if id(node) in self._open:
                raise YamlProblem(path, *_mark(node), "a YAML alias refers to itself",
                                  "an anchored value cannot contain its own alias")
            if len(path) >= MAX_DEPTH:  # aliases can nest deeper than the text does
                raise _too_deep(node, path)
            self._open.add(id(node))
            try:
                return self._collection(node, path, substitute)
            finally:
                self._open.discard(id(node))
        assert isinstance(node, yaml.ScalarNode)
        value = self._scalar(node, path, substitute)
        if isinstance(value, str) and (bad := _SURROGATE.search(value)):
            raise YamlProblem(path, *_mark(node),
                              f"the text holds U+{ord(bad.group()):04X}, a lone surrogate, "
                              "which is not a character", "remove that \\u escape")
        return value

    def _collection(self, node: yaml.MappingNode | yaml.SequenceNode, path: Path,
                    substitute: bool) -> Any:
        limit = self.limits.get(path)
        if limit is not None and len(node.value) > limit[0]:
            over = node.value[limit[0]]
            raise YamlProblem(path, *_mark(over if isinstance(over, yaml.Node) else over[0]),
                              f"more than {limit[0]} {limit[1]}", _SPLIT)
        if isinstance(node, yaml.SequenceNode):
            return [self.convert(v, (*path, i), substitute) for i, v in enumerate(node.value)]
        out: dict[str, Any] = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, yaml.ScalarNode):
                raise YamlProblem(path, *_mark(key_node), "a key must be a plain word",
                                  "lists and mappings cannot be keys")
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

    def _scalar(self, node: yaml.ScalarNode, path: Path, substitute: bool) -> Any:
        text: str = node.value
        if substitute and "$${" in text and _VAR.search(text) is None:
            return text.replace("$${", "${")
        if substitute and "${" in text:
            unclosed = _VAR.sub(lambda m: " " * len(m.group(0)), text).replace(
                "$${", "   ").find("${")
            if unclosed >= 0:
                start = _UNCLOSED.match(text, unclosed)
                assert start is not None
                raise YamlProblem(path, *_within(node, start.group(0)),
                                  f"'{start.group(0)}' is never closed", "write ${name}")
            whole = _VAR.fullmatch(text)
            if whole and node.style is None:
                value = self._lookup(whole, node, path)
                self._spend(len(value) if isinstance(value, str) else 0, node, path)
                if isinstance(value, str) and value.lower() not in _BOOL_OR_NULL:
                    return _plain(value)
                return value
            out = _VAR.sub(lambda m: _render(self._lookup(m, node, path)), text).replace(
                "$${", "${")
            self._spend(len(out), node, path)
            return out
        if node.tag == "tag:yaml.org,2002:str" or node.style is not None:
            return text
        if node.tag == _TIMESTAMP:
            return text  # YAML 1.1 dates: no experiment value is a date, keep what was written
        if node.tag not in _CORE_TAGS:
            raise _unsupported_tag(node, path)
        try:
            value = self._constructor.construct_object(node, deep=True)
        except (yaml.YAMLError, ValueError, LookupError, AttributeError, TypeError):
            # PyYAML's constructors fail in assorted ways on explicitly tagged bad scalars
            raise YamlProblem(path, *_mark(node), f"cannot read {text!r} as {node.tag[18:]}",
                              "remove the !! tag or fix the value") from None
        if isinstance(value, int | float) and not isinstance(value, bool):
            return _plain(text)  # a number only as a plain decimal; the rest stays text
        return value

    def _spend(self, chars: int, node: yaml.Node, path: Path) -> None:
        self.budget.substituted -= chars
        if self.budget.substituted < 0:
            raise YamlProblem(path, *_mark(node),
                              f"${{...}} substitutions produce more than {MAX_SUBSTITUTED} "
                              "characters", "a var that uses another var twice doubles it; "
                              "is a chain of vars growing?")

    def _lookup(self, match: re.Match[str], node: yaml.ScalarNode, path: Path) -> object:
        name = match.group(1).strip()
        if name in ("", "env:"):
            raise YamlProblem(path, *_within(node, match.group(0)),
                              f"'{match.group(0)}' names no variable",
                              "write ${name} or ${env:NAME}")
        self.uses.setdefault(path, []).append(VarUse(name, node, match.group(0)))
        self.used.add(name)
        if name.startswith("env:"):
            return self._env(name[4:], match, node, path)
        if name not in self.variables:
            known = sorted(self.variables)
            hint = suggest(name, known) or (
                f"define it under vars: or pass --var {name}=...; defined: {', '.join(known)}")
            if name in self.later:
                hint = f"a var can use only the vars above it; move {name} up"
            raise YamlProblem(path, *_within(node, match.group(0)),
                              f"unknown variable ${{{name}}}", hint)
        return self.variables[name]

    def _env(self, env: str, match: re.Match[str], node: yaml.ScalarNode, path: Path) -> str:
        if env not in os.environ:
            raise YamlProblem(path, *_within(node, match.group(0)),
                              f"environment variable {env} is not set",
                              f"export {env}=... before running")
        value = os.environ[env]
        if len(value) < MIN_SECRET:
            raise YamlProblem(path, *_within(node, match.group(0)),
                              f"environment variable {env} holds {len(value)} "
                              f"character(s); a value from ${{env:...}} is a secret and is "
                              f"masked in every output, which needs at least {MIN_SECRET}",
                              "pass a short value that is not secret with --var instead")
        if _SURROGATE.search(value):
            raise YamlProblem(path, *_within(node, match.group(0)),
                              f"environment variable {env} is not valid UTF-8",
                              "export it as UTF-8 text")
        self.secrets[value] = env
        return value


def _too_deep(node: yaml.Node, path: Path) -> YamlProblem:
    return YamlProblem(path, *_mark(node), f"lists and mappings nest more than {MAX_DEPTH} "
                       "levels deep", "an experiment nests a few levels; is the file generated?")


def _unsupported_tag(node: yaml.Node, path: Path) -> YamlProblem:
    return YamlProblem(path, *_mark(node), f"YAML tag '{node.tag}' is not supported",
                       "write plain values, lists and mappings; no !tags")


def _within(node: yaml.Node, needle: str) -> tuple[int, int]:
    """The position of ``needle`` inside the source text of ``node`` (its start if not found,
    e.g. when an escape sequence spells it differently)."""
    start, end = node.start_mark, node.end_mark
    buffer = start.buffer
    if not isinstance(buffer, str):
        return _mark(node)
    offset = buffer.find(needle, start.index, end.index)
    if offset < 0:
        return _mark(node)
    before = buffer[start.index:offset]
    if "\n" not in before:
        return start.line + 1, start.column + 1 + len(before)
    return start.line + 1 + before.count("\n"), len(before) - before.rindex("\n")


def _plain(text: str) -> object:
    """A var's text where a plain value goes (so ``${port}`` can be an int), read as the file
    reads plain scalars: a number only when written as a plain decimal (``8080``, ``-2``,
    ``0.5``), else the text itself, unchanged (no YAML re-parse: ``'x #y'`` stays ``x #y``)."""
    if _DECIMAL_INT.fullmatch(text):
        return int(text)
    if _DECIMAL_FLOAT.fullmatch(text):
        number = float(text)
        if number not in (float("inf"), float("-inf")):
            return number
    return text


# PyYAML's problems in words for people: (problem contains, use the context mark, message, hint)
_YAML_PROBLEMS: tuple[tuple[str, bool, str, str], ...] = (
    ("'\\t'", False, "a tab character here", "YAML indents with spaces; replace tabs"),
    ("tab character", False, "a tab character here", "YAML indents with spaces; replace tabs"),
    ("mapping values are not allowed here", False, "unexpected ':'",
     "is this line indented too far? a value containing ': ' needs quotes"),
    ("could not find expected ':'", True, "expected 'key: value'",
     "add the missing ':' (with a space after it), or indent this line under its parent"),
    ("expected <block end>", False, "indentation does not match the lines above",
     "indent the keys of one mapping (and the items of one list) by the same spaces"),
    ("but found another document", False, "a second YAML document ('---') in the file",
     "keep one experiment per file"),
    ("found unexpected end of stream", True, "this quoted string is never closed",
     "add the closing quote"),
    ("but got '<stream end>'", True, "this bracket is never closed", "add the closing ] or }"),
    ("found undefined alias", False, "unknown YAML alias",
     "define the anchor (&name) before using *name"),
)


def _line(text: str, line: int) -> str:
    lines = text.splitlines()
    return lines[line] if 0 <= line < len(lines) else ""


def _keyless_line_above(text: str, line: int) -> tuple[int, int] | None:
    """Where PyYAML finds an unexpected ':' on ``line`` (0-based) because the line above has
    no colon, the line above is a key that lost its colon (``url http://...``): PyYAML read
    it and this line as one multi-line string. Its 1-based position, or None."""
    lines = text.splitlines()
    if line >= len(lines) or ": " in lines[line][: lines[line].find(":")]:
        return None
    for above in range(line - 1, -1, -1):
        stripped = lines[above].strip()
        if not stripped or stripped.startswith("#"):
            continue
        if re.search(r":(\s|$)", stripped) or stripped.startswith(("-", "[", "{", "?")):
            return None
        return above + 1, len(lines[above]) - len(lines[above].lstrip()) + 1
    return None


class _Loader(yaml.SafeLoader):
    """PyYAML's composer with limits: it recurses once per level of nesting (so ~300 levels
    of ``[`` end in RecursionError), and composes any number of nodes. Depth, nodes and the
    entries of the collections in ``limits`` are checked as the nodes are read, so a hostile
    file is refused at the first node past a limit, whatever follows (the converter checks
    the limits again: an alias can bring a collection where the text has none)."""

    def __init__(self, text: str, limits: Limits) -> None:
        super().__init__(text)
        self.limits = limits
        self.nodes = 0
        self.open: list[tuple[Path, int]] = []  # (path, entries so far) of open collections

    def compose_node(self, parent: yaml.Node | None, index: int) -> yaml.Node | None:
        event: yaml.Event = self.peek_event()  # type: ignore[no-untyped-call]
        if self.open and isinstance(parent, yaml.MappingNode | yaml.SequenceNode):
            path, entries = self.open[-1]
            if isinstance(parent, yaml.SequenceNode) or index is None:  # an item, or a key
                self.open[-1] = (path, entries + 1)
                limit = self.limits.get(path)
                if limit is not None and entries + 1 > limit[0]:
                    raise YamlProblem(path, *_at_mark(event.start_mark),
                                      f"more than {limit[0]} {limit[1]}", _SPLIT)
            key: object = index  # an item's position, a value's key node, or None for a key
            part: str | int = (key.value if isinstance(key, yaml.ScalarNode)
                               else key if isinstance(key, int) else "?")
            path = (*path, part)
        else:
            path = ()
        if isinstance(event, yaml.AliasEvent):
            return super().compose_node(parent, index)
        self.nodes += 1
        if self.nodes > MAX_VALUES:
            raise YamlProblem((), *_at_mark(event.start_mark),
                              f"the file has more than {MAX_VALUES} values",
                              "an experiment has a few hundred; is the file generated?")
        if not isinstance(event, yaml.CollectionStartEvent):
            return super().compose_node(parent, index)
        if len(self.open) >= MAX_DEPTH:
            raise YamlProblem((), *_at_mark(event.start_mark),
                              f"lists and mappings nest more than {MAX_DEPTH} levels deep",
                              "an experiment nests a few levels; is the file generated?")
        self.open.append((path, 0))
        try:
            return super().compose_node(parent, index)
        finally:
            self.open.pop()


_SPLIT = ("an experiment this large is not what faultlab runs well; split it into several "
          "experiments")


def _at_mark(mark: Any) -> tuple[int, int]:
    return (mark.line + 1, mark.column + 1) if mark is not None else (1, 1)


def compose(text: str, limits: Limits | None = None) -> yaml.Node | None:
    """The node tree of ``text`` (None when it holds no document), or a YamlProblem."""
    try:
        loader = _Loader(text, limits or {})
        try:
            return loader.get_single_node()
        finally:
            loader.dispose()
    except yaml.MarkedYAMLError as e:
        problem = " ".join((e.problem or "invalid YAML").split())
        message, hint, mark = f"invalid YAML: {problem}", "check indentation, quoting and colons", (
            e.problem_mark or e.context_mark)
        for needle, at_context, nice, nice_hint in _YAML_PROBLEMS:
            if needle in problem:
                message, hint = f"invalid YAML: {nice}", nice_hint
                if at_context and e.context_mark is not None:
                    mark = e.context_mark
                break
        line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        if mark is not None and "'{'" in problem and "${" in _line(text, mark.line):
            hint = "inside [ ] or { }, put ${...} in quotes: \"${port}\""
            if _line(text, mark.line)[mark.column - 1: mark.column + 1] == "${":
                col -= 1  # point at the '$', not at the brace PyYAML stumbled on
        if "mapping values are not allowed here" in problem and mark is not None:
            keyless = _keyless_line_above(text, mark.line)
            if keyless is not None:
                line, col = keyless
                message, hint = "invalid YAML: expected 'key: value'", (
                    "add the missing ':' (with a space after it)")
        raise YamlProblem((), line, col, message, hint) from None
    except yaml.reader.ReaderError as e:
        before = text[: e.position]
        line = before.count("\n") + 1
        col = len(before) - before.rfind("\n")
        char = e.character if isinstance(e.character, int) else ord(str(e.character)[:1] or "?")
        raise YamlProblem((), line, col,
                          f"invalid YAML: control character U+{char:04X} is not allowed",
                          "remove it; write it as an escape in a quoted string") from None
    except yaml.YAMLError as e:
        raise YamlProblem((), 1, 1, "invalid YAML: " + " ".join(str(e).split())) from None
