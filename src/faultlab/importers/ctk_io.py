"""Reading a Chaos Toolkit file, writing the converted experiment, and proving it loads.

The input is read with the experiment loader's discipline (a regular file of at most 1 MiB,
UTF-8, bounded nesting; every value's line and column kept for messages): JSON with
:mod:`json` (so ``1e3`` is a number, as Chaos Toolkit reads it), YAML with the bounded
composer the canvas importers use. The output is written atomically (a temporary file in
the same directory, then renamed): a failed import leaves nothing, not half a file.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import tempfile
from pathlib import Path
from typing import Any

import yaml

from faultlab.canvas.importers.common import (
    Document,
    ImportFileError,
    Report,
    Text,
    read_documents,
    read_text,
)
from faultlab.experiment.errors import ExperimentError, Problem
from faultlab.experiment.yamlpos import Positions
from faultlab.importers.chaostoolkit import Conversion, Options, convert
from faultlab.importers.ctk_values import MARK, render

__all__ = ["import_chaostoolkit", "read_chaostoolkit", "write_atomically"]

#: what a secret from the environment is while the converted text is proven to load
_PLACEHOLDER = "placeholder-secret"


def read_chaostoolkit(source: str | os.PathLike[str] | Text) -> Document:
    """The one document of a Chaos Toolkit file (JSON or YAML), or ImportFileError."""
    name = source.name if isinstance(source, Text) else os.fspath(source)
    text = read_text(source, name)  # ExperimentError (an ImportFileError's base) if unreadable
    report = Report()
    docs = read_documents([Text(text, name)], report)
    if name.endswith(".json") or text.lstrip().startswith(("{", "[")):
        try:
            data = json.loads(text)
        except ValueError as e:
            line, column = getattr(e, "lineno", 1), getattr(e, "colno", 1)
            raise ImportFileError([Problem(name, line, column, "", "invalid JSON: "
                                           + str(getattr(e, "msg", e)), "check commas, "
                                           "quotes and brackets")]) from None
        positions = docs[0].positions if len(docs) == 1 else Positions()
        return Document(name, data, positions)
    report.check()
    if len(docs) != 1:
        raise ImportFileError([Problem(name, 1, 1, "", f"{len(docs)} YAML documents; a Chaos "
                                       "Toolkit experiment is one", "convert one experiment "
                                       "per file")])
    return docs[0]


def _rendered(value: Any, secret: str | None) -> Any:
    if isinstance(value, str):
        if secret is not None and MARK in value:
            value = re.sub(f"{MARK}[^\ue001]*\ue001", secret, value)
        return render(value)
    if isinstance(value, dict):
        return {k: _rendered(v, secret) for k, v in value.items()}
    if isinstance(value, list):
        return [_rendered(v, secret) for v in value]
    return value


class _Dumper(yaml.SafeDumper):
    pass


def _str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _str)


def _dump(experiment: dict[str, Any]) -> str:
    return yaml.dump(experiment, Dumper=_Dumper, sort_keys=False, allow_unicode=True,
                     width=100)


def _timeline(exp: dict[str, Any]) -> str:
    """One line: when each action runs and when the hypothesis is judged again."""
    from faultlab.units import parse_duration

    parts = []
    for fault in exp.get("faults", []):
        start = parse_duration(fault["start"])
        if "revert" not in fault:
            parts.append(f"{fault['name']} at {start:g}s")
        else:
            end = start + parse_duration(fault["duration"])
            then = ", then the rollbacks" if fault["name"].startswith("rollbacks") else ""
            parts.append(f"hypothesis judged {start:g}s-{end:g}s{then}")
    before = exp.get("hypothesis", {}).get("before", {}).get("for")
    steady = f" (held for {before} first)" if before else ""
    return (f"Timeline, from the end of the steady state{steady}: "
            + ("; ".join(parts) or "nothing") + ".")


def _header(conv: Conversion, source: str) -> str:
    lines = [f"Converted from the Chaos Toolkit experiment {source} by `faultlab import "
             "chaostoolkit` (see docs/chaostoolkit.md).", _timeline(conv.experiment)]
    unconverted = conv.lines(source, notes=False)
    lines.append(f"Not converted ({len(unconverted)}):" if unconverted
                 else "Every construct was converted.")
    lines += [f"  {line}" for line in unconverted]
    notes = [line for line in conv.lines(source) if line not in unconverted]
    if notes:
        lines.append("Notes:")
        lines += [f"  {line}" for line in notes]
    return "".join(f"# {line}\n" for line in lines) + "\n"


def import_chaostoolkit(source: str | os.PathLike[str] | Text,
                        options: Options | None = None) -> Conversion:
    """Read, convert and render one Chaos Toolkit experiment; the text is proven to load as
    a faultlab experiment (a command not on this machine's PATH is a note, not an error)."""
    from faultlab.experiment.loader import load_experiment_text

    doc = read_chaostoolkit(source)
    conv = convert(doc, options)
    name = doc.source
    try:
        load_experiment_text(_dump(_rendered(conv.experiment, _PLACEHOLDER)), f"<{name}>")
    except ExperimentError as e:
        missing = [p for p in e.problems if "not found on PATH" in p.message]
        if len(missing) != len(e.problems):
            first = next(p for p in e.problems if p not in missing)
            raise ImportFileError([Problem(name, 1, 1, "", "the converted experiment does "
                                           f"not load: {first.path}: {first.message}",
                                           first.hint or "a value faultlab cannot hold; "
                                           "edit it in the input")]) from None
        for p in missing:
            conv.notes.append(((), f"{p.path}: {p.message}; the file validates where it "
                               "is installed"))
    conv.text = _header(conv, name) + _dump(_rendered(conv.experiment, None))
    return conv


def write_atomically(path: str | os.PathLike[str], text: str) -> None:
    """``text`` at ``path``, all or nothing (a temporary file in its directory, renamed)."""
    target = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp",
                               dir=target.parent if str(target.parent) else ".")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
