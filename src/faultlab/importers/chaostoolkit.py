"""Chaos Toolkit experiments as faultlab experiments (``faultlab import chaostoolkit``).

The mapping (docs/chaostoolkit.md has the whole table and a worked example):

- each probe of the ``steady-state-hypothesis`` becomes a ``probe`` workload polled every
  ``every``, its tolerance a check of that probe, and an SLO ``success_ratio: 100%`` over it:
  the hypothesis holds while every poll passes. ``hypothesis.before`` holds them all (the
  steady state before the method: no action runs otherwise) and ``hypothesis.during`` holds
  them over the *check window*, a fault named ``rollbacks`` (or ``hypothesis-check``) that
  starts when the method ends and lasts ``check_for``: Chaos Toolkit's second look at the
  hypothesis, after the method and before the rollbacks;
- each action of the ``method`` becomes a one-off ``command`` fault, started at the time its
  ``pauses`` give (pauses add up in order, as Chaos Toolkit sleeps them); a probe of the
  method becomes a probe workload no SLO judges (recorded, as Chaos Toolkit records it);
- the ``rollbacks`` run, in order, as the revert of the check window's fault: they are
  journaled before they are needed, and run on every revert path (end of the window,
  SIGINT, abort, ``faultlab recover``, the lease keeper). With ``continuous`` the window
  spans the whole method: the hypothesis is judged all along, and the rollbacks are journaled
  before the first action;
- providers: ``http`` and ``process`` as such (an http *action* as a ``python3 -c`` request),
  ``python`` as ``python3 -c`` calling the function with its arguments as JSON and judging
  its result by the tolerance exactly as Chaos Toolkit does; a probe as tolerance (a python
  function given ``value=``) likewise, for every provider.

Everything else is named in :attr:`Conversion.unconverted` (``method[2].provider.type: 'k8s'
is not supported``) and written at the top of the file; nothing is dropped silently. Input
that is no Chaos Toolkit experiment raises :class:`ImportFileError` (one located line per
problem, with a hint). The text produced is loaded with faultlab's loader before it is
returned, so what :func:`convert` gives validates.
"""

from __future__ import annotations

import contextlib
import json
import math
import re
import shlex
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from faultlab.canvas.importers.common import Document, ImportFileError, Report
from faultlab.experiment.errors import Problem
from faultlab.importers.ctk_code import (
    HTTP_ACTION,
    PROBE_TOLERANCE,
    PYTHON_CALL,
    split_secrets,
)
from faultlab.importers.ctk_values import CODE, MARK, Values, has_secret
from faultlab.workload.probe import JsonPathError, parse_jsonpath

__all__ = ["Conversion", "ImportFileError", "Options", "convert"]

Path = tuple[str | int, ...]
_KNOWN_TOP = {"version", "title", "description", "tags", "configuration", "secrets",
              "steady-state-hypothesis", "method", "rollbacks", "contributions",
              "extensions", "controls", "runtime", "dry"}
_ACTIVITY_KEYS = {"type", "name", "provider", "tolerance", "pauses", "background", "ref",
                  "controls", "description"}


@dataclass(frozen=True)
class Options:
    """Choices the Chaos Toolkit file cannot make (times are seconds)."""

    every: float = 1.0  # how often each hypothesis probe is asked
    steady_for: int = 2  # the steady state observed before the method (whole seconds)
    check_for: int = 3  # the hypothesis judged after the method (whole seconds)
    continuous: bool = False  # judge the hypothesis during the whole method
    python: str = "python3"  # the interpreter of python providers and http actions


@dataclass
class Conversion:
    """A converted experiment: its data, its file text, and what was not converted."""

    experiment: dict[str, Any]
    text: str = ""
    #: a construct not converted, each ``path: why`` (a located line in :meth:`lines`)
    unconverted: list[tuple[Path, str]] = field(default_factory=list)
    #: conversions that are not one to one, each ``path: what was done``
    notes: list[tuple[Path, str]] = field(default_factory=list)
    located: dict[Path, tuple[int, int]] = field(default_factory=dict)

    def lines(self, source: str, *, notes: bool = True) -> list[str]:
        out = [self._line(source, p, m) for p, m in self.unconverted]
        if notes:
            out += [self._line(source, p, f"note: {m}") for p, m in self.notes]
        return out

    def _line(self, source: str, path: Path, message: str) -> str:
        line, column = self.located.get(path, (1, 1))
        return str(Problem(source, line, column, dotted(path), message))


def dotted(path: Path) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _slug(text: str, fallback: str) -> str:
    slug = re.sub(r"[^A-Za-z0-9_.-]+", "-", text).strip("-._")[:56]
    return slug or fallback


def _seconds(x: float) -> str:
    return f"{int(x)}s" if float(x).is_integer() else f"{round(x * 1000)}ms"


class _Converter:
    def __init__(self, doc: Document, options: Options) -> None:
        self.doc = doc
        self.data: dict[str, Any] = doc.data
        self.options = options
        self.report = Report()
        self.result = Conversion({})
        self.values = Values()
        self.names: set[str] = set()
        self.workloads: dict[str, Any] = {}
        self.slos: list[dict[str, Any]] = []
        self.faults: list[dict[str, Any]] = []
        self.activities: dict[str, tuple[Path, dict[str, Any]]] = {}
        self.seen: set[Path] = set()  # activities checked (a ref's definition is checked once)

    # --- reporting --------------------------------------------------------------------------

    def problem(self, path: Path, message: str, hint: str) -> None:
        before = len(self.report.problems)
        self.report.problem(self.doc, path, message, hint)
        if self.report.problems[-1] in self.report.problems[:before]:  # a ref checked twice
            self.report.problems.pop()

    def unconverted(self, path: Path, message: str) -> None:
        if (path, message) not in self.result.unconverted:
            self.result.unconverted.append((path, message))
            self.result.located[path] = self.doc.at(path)

    def note(self, path: Path, message: str) -> None:
        if (path, message) not in self.result.notes:
            self.result.notes.append((path, message))
            self.result.located[path] = self.doc.at(path)

    def unique(self, base: str) -> str:
        name, i = base, 2
        while name in self.names:
            name = f"{base[:58]}-{i}"
            i += 1
        self.names.add(name)
        return name

    # --- the experiment ---------------------------------------------------------------------

    def run(self) -> dict[str, Any]:
        data = self.data
        title = data.get("title")
        if not isinstance(title, str) or not title.strip():
            self.problem(("title",), "a Chaos Toolkit experiment needs a title",
                         'add "title": "what the experiment shows"')
        method = data.get("method")
        if not isinstance(method, list):
            self.problem(("method",), "a Chaos Toolkit experiment needs a method: a list of "
                         "actions and probes", 'add "method": [{"type": "action", ...}]')
            method = []
        for key in data:
            if key not in _KNOWN_TOP:
                self.unconverted((key,), "is not a Chaos Toolkit experiment key; ignored")
            elif key in ("extensions", "controls", "contributions"):
                self.unconverted((key,), f"{key} are not converted (faultlab has no place "
                                 "for them)")
            elif key == "runtime":
                self.unconverted((key,), "runtime settings (rollback and hypothesis "
                                 "strategies) are not converted: faultlab judges the "
                                 "hypothesis before and after the method, and always runs "
                                 "the rollbacks")
            elif key == "dry":
                self.unconverted((key,), "a dry run is `faultlab run --dry-run`; not "
                                 "converted")
        self.values = Values.read(data, self.unconverted, self.note)
        self.index()
        hypo_names = self.hypothesis()
        self.report.check()
        starts = self.method(method)
        self.report.check()
        self.check_window(starts, hypo_names)
        own = data.get("description")
        own = own.strip() if isinstance(own, str) else ""
        if own and own[-1] not in ".!?":
            own += "."
        description = " ".join(x for x in (own, "Converted from the Chaos Toolkit experiment "
                                           f"{str(title).strip()!r}.") if x)
        if isinstance(data.get("tags"), list) and data["tags"]:
            description += " Tags: " + ", ".join(str(t) for t in data["tags"]) + "."
        exp: dict[str, Any] = {
            "name": _slug(str(title), "chaostoolkit"),
            "description": description,
        }
        used = set(walk_strings([self.workloads, self.faults]))
        programs = {name: code for name, code in (("ctk_python_call", PYTHON_CALL),
                                                  ("ctk_http_action", HTTP_ACTION),
                                                  ("ctk_probe_tolerance", PROBE_TOLERANCE))
                    if CODE + name in used}
        if programs:  # each program once, used as ${name} (docs/chaostoolkit.md)
            exp["vars"] = programs
        if self.workloads:
            exp["workloads"] = self.workloads
        if self.slos:
            exp["slos"] = self.slos
            exp["hypothesis"] = {
                "before": {"hold": hypo_names, "for": _seconds(self.options.steady_for)},
                "during": {"hold": hypo_names},
                "after": {"observe": "1s"},
            }
        elif self.workloads:
            exp["hypothesis"] = {"after": {"observe": "1s"}}
        exp["faults"] = self.faults
        longest = max((f.get("_revert_timeout", 0.0) for f in self.faults), default=0.0)
        for f in self.faults:
            f.pop("_revert_timeout", None)
        if longest > 5:
            exp["revert"] = {"timeout": _seconds(math.ceil(longest) + 1)}
        return exp

    def hypothesis(self) -> list[str]:
        hypo = self.data.get("steady-state-hypothesis")
        if hypo is None:
            return []
        base: Path = ("steady-state-hypothesis",)
        if not isinstance(hypo, dict):
            self.problem(base, "the steady-state-hypothesis must be a mapping with a title "
                         "and probes", '"steady-state-hypothesis": {"title": ..., "probes": '
                         "[...]}")
            return []
        for key in hypo:
            if key not in ("title", "probes", "controls"):
                self.unconverted((*base, key), "is not a key of a steady-state hypothesis; "
                                 "ignored")
        if "controls" in hypo:
            self.unconverted((*base, "controls"), "controls are not converted")
        probes = hypo.get("probes", [])
        if not isinstance(probes, list):
            self.problem((*base, "probes"), "the hypothesis's probes must be a list",
                         '"probes": [{"type": "probe", ...}]')
            return []
        names: list[str] = []
        for i, raw in enumerate(probes):
            found = self.activity((*base, "probes", i), raw)
            if found is None:
                continue
            path, activity = found
            if activity.get("type") != "probe":
                self.problem((*path, "type"), "the hypothesis holds probes only",
                             'write "type": "probe", or move the action to the method')
                continue
            if "tolerance" not in activity:
                self.problem(path, "a hypothesis probe needs a tolerance",
                             'add e.g. "tolerance": 200 (an http status) or 0 (an exit '
                             "code)")
                continue
            workload = self.probe_workload(path, activity, activity["tolerance"])
            if workload is None:
                continue
            name = self.unique(_slug(str(activity.get("name", "")), f"probe-{i}"))
            self.workloads[name] = workload
            slo = self.unique(f"{name[:56]}-holds")
            self.slos.append({"name": slo, "workload": name, "success_ratio": "100%",
                              "window": "1s"})
            names.append(slo)
        return names

    def index(self) -> None:
        """Every named activity, for ``ref`` (Chaos Toolkit resolves refs anywhere)."""
        hypo = self.data.get("steady-state-hypothesis")
        probes = hypo.get("probes") if isinstance(hypo, dict) else None
        for base, items in ((("steady-state-hypothesis", "probes"), probes),
                            (("method",), self.data.get("method")),
                            (("rollbacks",), self.data.get("rollbacks"))):
            for i, raw in enumerate(items if isinstance(items, list) else []):
                if isinstance(raw, dict) and isinstance(raw.get("name"), str) and (
                        "provider" in raw):
                    self.activities.setdefault(raw["name"], ((*base, i), raw))

    def activity(self, path: Path, raw: Any) -> tuple[Path, dict[str, Any]] | None:
        """An activity's place and mapping (a ``ref`` resolved to its definition), or None
        after a problem."""
        if not isinstance(raw, dict):
            self.problem(path, "an activity must be a mapping", '{"type": "action", "name": '
                         '..., "provider": {...}}')
            return None
        if "ref" in raw and "provider" not in raw:
            ref = raw["ref"]
            found = self.activities.get(str(ref)) if isinstance(ref, str) else None
            if found is None:
                self.problem((*path, "ref"), f"ref {ref!r} names no activity",
                             "name an activity of the hypothesis, method or rollbacks")
                return None
            if found[0] in self.seen:
                return found
            raw, path = found[1], found[0]
        kind = raw.get("type")
        if kind not in ("action", "probe"):
            self.problem((*path, "type"), f"an activity's type is action or probe, not "
                         f"{kind!r}", 'write "type": "action" or "type": "probe"')
            return None
        if not isinstance(raw.get("provider"), dict):
            self.problem((*path, "provider"), "an activity needs a provider mapping",
                         '"provider": {"type": "process", "path": ...}')
            return None
        for key in raw:
            if key not in _ACTIVITY_KEYS:
                self.unconverted((*path, key), "is not a key of a Chaos Toolkit activity; "
                                 "ignored")
        if "controls" in raw:
            self.unconverted((*path, "controls"), "controls are not converted")
        self.seen.add(path)
        return path, raw

    # --- the method and the rollbacks -------------------------------------------------------

    def method(self, method: list[Any]) -> list[float]:
        """Fault entries for the actions; the end of the method's timeline last."""
        t, last_action = 0.0, -math.inf
        starts: list[float] = []
        for i, raw in enumerate(method):
            found = self.activity(("method", i), raw)
            if found is None:
                continue
            path, activity = found
            before, after = self.pauses(path, activity)
            t += before
            if activity.get("background"):
                self.note((*path, "background"), "runs in the background in Chaos "
                          "Toolkit; here it starts at its time like every fault")
            if activity.get("type") == "probe":
                workload = self.probe_workload(path, activity, None)
                if workload is not None:
                    name = self.unique(_slug(str(activity.get("name", "")), f"method-{i}"))
                    self.workloads[name] = workload
                    self.note(path, f"a probe of the method: polled as workload '{name}' "
                              "all run long, recorded, judged by no SLO")
            else:
                command = self.command(path, activity)
                if command is not None:
                    if t <= last_action:  # faults start at fixed times: keep their order
                        self.note((*path, "pauses"), f"no pause after the previous action: "
                                  f"started 1s after it ({_seconds(last_action + 1)})")
                        t = last_action + 1
                    argv, timeout = command
                    name = self.unique(_slug(str(activity.get("name", "")), f"action-{i}"))
                    self.faults.append({"name": name, "kind": "command", "target": "local",
                                        "inject": argv, "timeout": _seconds(timeout),
                                        "start": _seconds(t)})
                    last_action = t
                    starts.append(t)
            t += after
        starts.append(t)
        return starts

    def pauses(self, path: Path, activity: dict[str, Any]) -> tuple[float, float]:
        pauses = activity.get("pauses")
        if pauses is None:
            return 0.0, 0.0
        if not isinstance(pauses, dict):
            self.problem((*path, "pauses"), "pauses is a mapping", '"pauses": {"before": 1, '
                         '"after": 5}')
            return 0.0, 0.0
        out = []
        for key in ("before", "after"):
            v = pauses.get(key, 0)
            if isinstance(v, str):
                v = self.values.substitute(v, self.values.configuration)
            if isinstance(v, str):
                with contextlib.suppress(ValueError):
                    v = float(v)
            if isinstance(v, bool) or not isinstance(v, int | float) or not (
                    0 <= v < 86400 * 7):
                self.problem((*path, "pauses", key), f"a pause is seconds, not {v!r}",
                             f'"{key}": 5')
                v = 0
            out.append(float(v))
        for key in pauses:
            if key not in ("before", "after"):
                self.unconverted((*path, "pauses", key), "is not a pause (before, after); "
                                 "ignored")
        return out[0], out[1]

    def check_window(self, starts: list[float], hypo: list[str]) -> None:
        end = math.ceil(starts[-1] * 1000) / 1000
        rollbacks = self.data.get("rollbacks", [])
        commands: list[list[str]] = []
        timeout = 0.0
        if not isinstance(rollbacks, list):
            self.problem(("rollbacks",), "rollbacks is a list of actions",
                         '"rollbacks": [{"type": "action", ...}]')
            rollbacks = []
        for i, raw in enumerate(rollbacks):
            found = self.activity(("rollbacks", i), raw)
            if found is None:
                continue
            path, activity = found
            if activity.get("type") == "probe":
                self.unconverted(path, "a probe among the rollbacks is not converted "
                                 "(a rollback is an action)")
                continue
            if activity.get("pauses"):
                self.unconverted((*path, "pauses"), "pauses of a rollback are not converted "
                                 "(the rollbacks run one after the other)")
            command = self.command(path, activity)
            if command is not None:
                commands.append(command[0])
                timeout += command[1]
        self.report.check()
        check = self.options.check_for
        if not commands and not hypo:
            return
        revert = (commands[0] if len(commands) == 1 else
                  ["sh", "-c", "; ".join(shlex.join(c) for c in commands)] if commands
                  else ["true"])
        start, duration = (0.0, end + check) if self.options.continuous else (end, check)
        self.faults.append({
            "name": self.unique("rollbacks" if commands else "hypothesis-check"),
            "kind": "command", "target": "local", "inject": ["true"], "revert": revert,
            "timeout": _seconds(max(timeout, 30.0)), "start": _seconds(start),
            "duration": _seconds(duration), "_revert_timeout": max(timeout, 30.0)})

    # --- providers --------------------------------------------------------------------------

    def provider(self, path: Path, activity: dict[str, Any]) -> tuple[dict[str, Any], str,
                                                                       dict[str, Any]] | None:
        provider: dict[str, Any] = activity["provider"]
        kind = provider.get("type")
        if kind not in ("http", "process", "python"):
            self.unconverted((*path, "provider", "type"), f"{kind!r} is not supported "
                             "(faultlab converts http, process and python providers)")
            return None
        return provider, kind, self.values.mapping(provider.get("secrets"))

    def timeout(self, path: Path, provider: dict[str, Any], default: float) -> float:
        value = provider.get("timeout")
        if value is None:
            return default
        if isinstance(value, bool) or not isinstance(value, int | float) or not (
                0 < value <= 86400):
            self.unconverted((*path, "provider", "timeout"), f"a timeout is seconds, not "
                             f"{value!r}; {_seconds(default)} used")
            return default
        return float(value)

    def command(self, path: Path, activity: dict[str, Any]) -> tuple[list[str], float] | None:
        """An action as a command (argv, timeout)."""
        found = self.provider(path, activity)
        if found is None:
            return None
        provider, kind, mapping = found
        timeout = self.timeout(path, provider, 30.0)
        if kind == "process":
            argv = self.process_argv(path, provider, mapping)
            return (argv, timeout) if argv is not None else None
        if kind == "python":
            argv = self.python_argv(path, provider, mapping, {"kind": "none"})
            return (argv, timeout) if argv is not None else None
        request = self.http_request(path, provider, mapping)
        if request is None:
            return None
        method, url, headers, body = request
        expected = provider.get("expected_status")
        if expected is not None and (isinstance(expected, bool) or not isinstance(expected, int)):
            self.unconverted((*path, "provider", "expected_status"), "is not a status code; "
                             "ignored")
            expected = None
        extra: list[str] = []
        headers = split_secrets(headers, MARK, extra)
        return ([self.options.python, "-c", CODE + "ctk_http_action", method, url,
                 json.dumps(headers), body or "", json.dumps(expected), repr(timeout), *extra],
                timeout)

    def process_argv(self, path: Path, provider: dict[str, Any],
                     mapping: dict[str, Any]) -> list[str] | None:
        program = self.values.substitute(provider.get("path"), mapping)
        if not isinstance(program, str) or not program.strip():
            self.problem((*path, "provider", "path"), "a process provider needs a path: the "
                         "program to run", '"path": "curl"')
            return None
        args = self.values.substitute(provider.get("arguments", []), mapping)
        if isinstance(args, str):  # Chaos Toolkit runs path + arguments through the shell
            return ["sh", "-c", f"{shlex.quote(program)} {args}"]
        if isinstance(args, dict):
            args = [x for kv in args.items() for x in kv]
        if not isinstance(args, list):
            self.problem((*path, "provider", "arguments"), "a process's arguments are a "
                         "string, a list or a mapping", '"arguments": ["-c", "1"]')
            return None
        return [program, *(self._text(a) for a in args if a not in (None, ""))]

    @staticmethod
    def _text(value: Any) -> str:
        return value if isinstance(value, str) else json.dumps(value) if isinstance(
            value, dict | list) else str(value)

    def python_argv(self, path: Path, provider: dict[str, Any], mapping: dict[str, Any],
                    check: dict[str, Any], tolerance_scopes: Any = None) -> list[str] | None:
        module, func = provider.get("module"), provider.get("func")
        for key, value in (("module", module), ("func", func)):
            if not isinstance(value, str) or not re.fullmatch(r"[A-Za-z_][\w.]*", value):
                self.problem((*path, "provider", key), f"a python provider needs {key}: a "
                             f"dotted Python name, not {value!r}",
                             '"module": "mypackage.probes", "func": "service_is_up"')
                return None
        args = self.values.substitute(provider.get("arguments", {}), mapping)
        if not isinstance(args, dict):
            self.problem((*path, "provider", "arguments"), "a python provider's arguments "
                         "are a mapping of the function's parameters", '"arguments": '
                         '{"url": "http://127.0.0.1:8080"}')
            return None
        extra: list[str] = []
        scopes = provider.get("secrets")
        if isinstance(tolerance_scopes, list):  # the tolerance's function has its own
            scopes = [*(scopes if isinstance(scopes, list) else []), *tolerance_scopes]
        call = {"configuration": self.values.configuration,
                "secrets": self.values.scoped_secrets(scopes)}
        try:
            encoded = [json.dumps(split_secrets(x, MARK, extra), allow_nan=False)
                       for x in (args, call, check)]
        except (TypeError, ValueError):
            self.problem((*path, "provider", "arguments"), "arguments that are not JSON "
                         "values cannot be passed", "write numbers, strings, lists, mappings")
            return None
        return [self.options.python, "-c", CODE + "ctk_python_call", str(module), str(func),
                *encoded, *extra]

    def http_request(self, path: Path, provider: dict[str, Any], mapping: dict[str, Any]
                     ) -> tuple[str, str, dict[str, str], str | None] | None:
        url = self.values.substitute(provider.get("url"), mapping)
        if not isinstance(url, str) or not url.strip():
            self.problem((*path, "provider", "url"), "an http provider needs a url",
                         '"url": "http://127.0.0.1:8080/health"')
            return None
        method = str(provider.get("method", "GET")).upper()
        raw_headers = self.values.substitute(provider.get("headers") or {}, mapping)
        if not isinstance(raw_headers, dict):
            self.problem((*path, "provider", "headers"), "headers are a mapping",
                         '"headers": {"Accept": "application/json"}')
            return None
        headers = {str(k): self._text(v) for k, v in raw_headers.items()}
        args = self.values.substitute(provider.get("arguments"), mapping)
        body: str | None = None
        if isinstance(args, dict) and args:
            if has_secret(args):
                self.unconverted((*path, "provider", "arguments"), "arguments holding a "
                                 "secret from the environment are not converted for http")
                return None
            if method == "GET":
                url += ("&" if "?" in url else "?") + urlencode(
                    {k: self._text(v) for k, v in args.items()})
            elif any("json" in v.lower() for k, v in headers.items()
                     if k.lower() == "content-type"):
                body = json.dumps(args)
            else:
                body = urlencode({k: self._text(v) for k, v in args.items()})
                headers.setdefault("Content-Type", "application/x-www-form-urlencoded")
        elif isinstance(args, str) and args:
            body = args
        elif args not in (None, {}, [], ""):
            self.unconverted((*path, "provider", "arguments"), "http arguments are a "
                             "mapping or a string; ignored")
        if provider.get("verify_tls") is False:
            self.unconverted((*path, "provider", "verify_tls"), "faultlab's probes verify "
                             "TLS certificates; verify_tls: false is not converted")
        return method, url, headers, body

    # --- probes and tolerances --------------------------------------------------------------

    def probe_workload(self, path: Path, activity: dict[str, Any], tolerance: Any
                       ) -> dict[str, Any] | None:
        found = self.provider(path, activity)
        if found is None:
            return None
        provider, kind, mapping = found
        timeout = self.timeout(path, provider, 2.0)
        workload: dict[str, Any] = {"kind": "probe", "every": _seconds(self.options.every),
                                    "timeout": _seconds(timeout)}
        tpath: Path = (*path, "tolerance")
        if isinstance(tolerance, dict) and tolerance.get("type") == "probe":
            judge = self.tolerance_probe(tpath, tolerance, mapping)
            if judge is None:
                tolerance = None  # the probe's own success is judged
            else:
                argv = self.probe_with_tolerance(path, provider, kind, mapping, timeout, judge)
                if argv is None:
                    return None
                workload["command"] = {"argv": argv}
                return workload
        if isinstance(tolerance, dict):
            for key in ("pattern", "path"):
                if isinstance(tolerance.get(key), str):
                    tolerance = {**tolerance, key: self.values.substitute(tolerance[key],
                                                                          mapping)}
        if kind == "python":
            check = self.python_check(tpath, tolerance)
            if check is None:
                return None
            argv = self.python_argv(path, provider, mapping, check[0])
            if argv is None:
                return None
            workload["command"] = {"argv": argv, **check[1]}
            return workload
        if kind == "process":
            argv = self.process_argv(path, provider, mapping)
            if argv is None:
                return None
            checks = self.process_checks(tpath, tolerance)
            if checks is None:
                return None
            workload["command"] = {"argv": argv, **checks}
            return workload
        request = self.http_request(path, provider, mapping)
        if request is None:
            return None
        method, url, headers, body = request
        probe: dict[str, Any] = {"url": url, "method": method}
        if headers:
            probe["headers"] = headers
        if body is not None:
            probe["body"] = body
        expected = provider.get("expected_status")
        if isinstance(expected, int) and not isinstance(expected, bool):
            probe["expect_status"] = [expected]
        checks = self.http_checks(tpath, tolerance)
        if checks is None:
            return None
        if "expect_status" in checks and "expect_status" in probe:
            both = [s for s in checks["expect_status"] if s in probe["expect_status"]]
            checks["expect_status"] = both or probe["expect_status"]
        probe.update(checks)
        workload["http"] = probe
        return workload

    def tolerance_probe(self, path: Path, tolerance: dict[str, Any], mapping: dict[str, Any]
                        ) -> dict[str, Any] | None:
        """The check of a probe as tolerance: a python function given ``value``."""
        provider = tolerance.get("provider")
        if not isinstance(provider, dict) or provider.get("type") != "python":
            self.unconverted(path, "a probe as tolerance is converted when its provider is "
                             "python (a function given value=); this one is not, and the "
                             "probe's own success is judged instead")
            return None
        module, func = provider.get("module"), provider.get("func")
        args = self.values.substitute(provider.get("arguments", {}) or {}, mapping)
        if not all(isinstance(x, str) and re.fullmatch(r"[A-Za-z_][\w.]*", x)
                   for x in (module, func)) or not isinstance(args, dict):
            self.problem((*path, "provider"), "a python provider needs module and func (dotted "
                         "Python names) and arguments as a mapping",
                         '"module": "mypackage.tolerances", "func": "is_fine"')
            return None
        args.pop("value", None)  # Chaos Toolkit sets it to the probe's result
        return {"kind": "probe", "module": module, "func": func, "arguments": args,
                "secrets": provider.get("secrets")}

    def probe_with_tolerance(self, path: Path, provider: dict[str, Any], kind: str,
                             mapping: dict[str, Any], timeout: float, check: dict[str, Any]
                             ) -> list[str] | None:
        scopes = check.pop("secrets")
        if kind == "python":
            return self.python_argv(path, provider, mapping, check, scopes)
        if kind == "process":
            argv = self.process_argv(path, provider, mapping)
            if argv is None:
                return None
            source: dict[str, Any] = {"process": {"argv": argv, "timeout": timeout}}
        else:
            request = self.http_request(path, provider, mapping)
            if request is None:
                return None
            method, url, headers, body = request
            source = {"http": {"method": method, "url": url, "headers": headers,
                               "body": body, "timeout": timeout}}
        extra: list[str] = []
        call = {"configuration": self.values.configuration,
                "secrets": self.values.scoped_secrets(scopes)}
        return [self.options.python, "-c", CODE + "ctk_probe_tolerance",
                *(json.dumps(split_secrets(x, MARK, extra)) for x in (source, call, check)),
                *extra]

    def _bad_tolerance(self, path: Path, message: str) -> None:
        self.problem(path, message, "see Chaos Toolkit's tolerances: a value, a list, or "
                     "{type: range|regex|jsonpath|probe, ...}")

    def _typed(self, path: Path, tolerance: Any) -> str | None:
        """The tolerance's form (bool, int, str, list, range, regex, jsonpath, none), or None
        after a problem."""
        if tolerance is None:
            return "none"
        if isinstance(tolerance, bool):
            return "bool"
        if isinstance(tolerance, int):
            return "int"
        if isinstance(tolerance, str):
            return "str"
        if isinstance(tolerance, list):
            return "list"
        if not isinstance(tolerance, dict):
            self._bad_tolerance(path, f"a tolerance cannot be {type(tolerance).__name__}")
            return None
        kind = tolerance.get("type")
        if kind == "range":
            r = tolerance.get("range")
            if not (isinstance(r, list) and len(r) == 2 and all(
                    isinstance(x, int | float) and not isinstance(x, bool) and math.isfinite(x)
                    for x in r) and r[0] <= r[1]):
                self._bad_tolerance((*path, "range"), "a range tolerance needs range: [low, "
                                    "high], two numbers, low first")
                return None
        elif kind == "regex":
            pattern = tolerance.get("pattern")
            try:
                re.compile(pattern) if isinstance(pattern, str) and pattern else None
            except re.error as e:
                self._bad_tolerance((*path, "pattern"), f"pattern {pattern!r} is not a "
                                    f"regular expression: {e}")
                return None
            if not isinstance(pattern, str) or not pattern:
                self._bad_tolerance((*path, "pattern"), "a regex tolerance needs a pattern")
                return None
        elif kind == "jsonpath":
            if not isinstance(tolerance.get("path"), str) or not tolerance["path"].strip():
                self._bad_tolerance((*path, "path"), "a jsonpath tolerance needs a path")
                return None
            count = tolerance.get("count")
            if count is not None and (isinstance(count, bool) or not isinstance(count, int)
                                      or count < 0):
                self._bad_tolerance((*path, "count"), "count is a whole number of matches")
                return None
        else:
            self._bad_tolerance((*path, "type"), f"tolerance type {kind!r} is not one of "
                                "range, regex, jsonpath, probe")
            return None
        for key in tolerance:
            if key not in ("type", "range", "pattern", "path", "expect", "count", "target"):
                self.unconverted((*path, key), "is not a key of this tolerance; ignored")
        return str(kind)

    def _jsonpath(self, path: Path, tolerance: dict[str, Any], strip: str | None = None
                  ) -> dict[str, Any] | None:
        text = str(tolerance["path"]).strip()
        if strip is not None:
            text = "$" + text[len(strip):]
        try:
            parse_jsonpath(text)
        except JsonPathError as e:
            self.unconverted((*path, "path"), str(e))
            return None
        out: dict[str, Any] = {"jsonpath": text}
        if tolerance.get("count") is not None:
            out["count"] = tolerance["count"]
        if "expect" in tolerance:
            expect = tolerance["expect"]
            out["expect"] = expect if isinstance(expect, list) else [expect]
        return out

    def http_checks(self, path: Path, tolerance: Any) -> dict[str, Any] | None:
        form = self._typed(path, tolerance)
        if form is None:
            return None
        if form == "none":
            return {}
        if form == "int":
            if not 100 <= tolerance <= 599:
                self._bad_tolerance(path, f"{tolerance} is not an HTTP status")
                return None
            return {"expect_status": [tolerance]}
        if form == "list":
            if tolerance and all(isinstance(x, int) and not isinstance(x, bool)
                                 and 100 <= x <= 599 for x in tolerance):
                return {"expect_status": list(tolerance)}
            self.unconverted(path, "Chaos Toolkit compares a list tolerance of an http probe "
                             "with its status; this list is not of statuses")
            return {}
        if form in ("bool", "str"):
            self.unconverted(path, f"a {form} tolerance is compared with the whole http "
                             "response (status, headers, body), which it never equals; "
                             "not converted (write a status, or a regex on the body)")
            return {}
        target = tolerance.get("target")
        if form == "range":
            low, high = tolerance["range"]
            if target == "status":
                codes = list(range(max(100, math.ceil(low)), min(599, math.floor(high)) + 1))
                if not codes:
                    self._bad_tolerance((*path, "range"), "the range holds no HTTP status")
                    return None
                return {"expect_status": codes}
            if target == "body":
                return {"between": [low, high]}
        elif form == "regex":
            if target in (None, "body"):
                if target is None:
                    self.note(path, "a regex without target: searched in the body")
                return {"matches": tolerance["pattern"]}
        elif form == "jsonpath":
            if target == "body":
                out = self._jsonpath(path, tolerance)
                return out if out is not None else {}
            text = str(tolerance["path"]).strip()
            prefix = re.match(r"\$(\.body|\[\s*['\"]body['\"]\s*\])", text)
            if target is None and prefix:
                out = self._jsonpath(path, tolerance, strip=prefix.group(0))
                return out if out is not None else {}
        self.unconverted(path, f"a {form} tolerance with target {target!r} is not converted "
                         "for an http probe (faultlab reads target: status or body)")
        return {}

    def process_checks(self, path: Path, tolerance: Any) -> dict[str, Any] | None:
        form = self._typed(path, tolerance)
        if form is None:
            return None
        if form == "none":
            return {}
        if form == "int":
            if not 0 <= tolerance <= 255:
                self._bad_tolerance(path, f"{tolerance} is not an exit code (0-255)")
                return None
            return {"expect_exit": tolerance}
        if form == "list":
            if tolerance and all(isinstance(x, int) and not isinstance(x, bool)
                                 and 0 <= x <= 255 for x in tolerance):
                return {"expect_exit": list(tolerance)}
            self.unconverted(path, "Chaos Toolkit compares a list tolerance of a process "
                             "probe with its exit code; this list is not of exit codes")
            return {}
        if form in ("bool", "str"):
            self.unconverted(path, f"a {form} tolerance is compared with the whole process "
                             "result (status, stdout, stderr), which it never equals; not "
                             "converted (write an exit code, or a regex on stdout)")
            return {}
        target = tolerance.get("target")
        if form == "range" and target == "status":
            low, high = tolerance["range"]
            codes = list(range(max(0, math.ceil(low)), min(255, math.floor(high)) + 1))
            if not codes:
                self._bad_tolerance((*path, "range"), "the range holds no exit code")
                return None
            return {"expect_exit": codes}
        if target is None and form in ("regex", "jsonpath"):
            self.note(path, f"a {form} without target: applied to stdout")
            target = "stdout"
        if target in ("stdout", "stderr"):
            out: dict[str, Any] | None = {"expect_exit": "any", "stream": target}
            assert out is not None
            if form == "range":
                out["between"] = list(tolerance["range"])
            elif form == "regex":
                out["matches"] = tolerance["pattern"]
            else:
                found = self._jsonpath(path, tolerance)
                if found is None:
                    return {}
                out.update(found)
            return out
        self.unconverted(path, f"a {form} tolerance with target {target!r} is not converted "
                         "for a process probe (faultlab reads target: status, stdout or "
                         "stderr)")
        return {}

    def python_check(self, path: Path, tolerance: Any
                     ) -> tuple[dict[str, Any], dict[str, Any]] | None:
        """(the check the program makes, the command probe's own checks)."""
        form = self._typed(path, tolerance)
        if form is None:
            return None
        if form == "none":
            return {"kind": "none"}, {}
        if form in ("bool", "int", "str"):
            return {"kind": "equals", "value": tolerance}, {}
        if form == "list":
            return {"kind": "list", "value": tolerance}, {}
        target = tolerance.get("target")
        if form == "range":
            low, high = tolerance["range"]
            return {"kind": "range", "low": low, "high": high, "target": target}, {}
        if form == "regex":
            return {"kind": "regex", "pattern": tolerance["pattern"], "target": target}, {}
        found = self._jsonpath(path, tolerance)
        if found is None:
            return {"kind": "none"}, {}
        return {"kind": "print", "target": target}, found


def walk_strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for k, v in value.items():
            yield str(k)
            yield from walk_strings(v)
    elif isinstance(value, list):
        for v in value:
            yield from walk_strings(v)


def convert(doc: Document, options: Options | None = None) -> Conversion:
    """The faultlab experiment of one Chaos Toolkit experiment document (its data and the
    positions of its values), or :class:`ImportFileError`."""
    converter = _Converter(doc, options or Options())
    if not isinstance(doc.data, dict):
        converter.problem((), "a Chaos Toolkit experiment is a mapping (a JSON object) with "
                          "a title and a method", '{"title": ..., "method": [...]}')
        converter.report.check()
    experiment = converter.run()
    converter.report.check()
    converter.result.experiment = experiment
    return converter.result
