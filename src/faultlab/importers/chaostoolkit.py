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
import math
import shlex
from typing import Any

from faultlab.canvas.importers.common import Document, ImportFileError
from faultlab.importers.ctk_base import (
    Conversion,
    Options,
    Path,
    dotted,
    seconds,
    slug,
    walk_strings,
)
from faultlab.importers.ctk_code import (
    HTTP_ACTION,
    PROBE_TOLERANCE,
    PYTHON_CALL,
)
from faultlab.importers.ctk_providers import Providers
from faultlab.importers.ctk_values import CODE, Values

__all__ = ["Conversion", "ImportFileError", "Options", "convert", "dotted"]

_KNOWN_TOP = {"version", "title", "description", "tags", "configuration", "secrets",
              "steady-state-hypothesis", "method", "rollbacks", "contributions",
              "extensions", "controls", "runtime", "dry"}
_ACTIVITY_KEYS = {"type", "name", "provider", "tolerance", "pauses", "background", "ref",
                  "controls", "description"}

class _Converter(Providers):
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
            "name": slug(str(title), "chaostoolkit"),
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
                "before": {"hold": hypo_names, "for": seconds(self.options.steady_for)},
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
            exp["revert"] = {"timeout": seconds(math.ceil(longest) + 1)}
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
            name = self.unique(slug(str(activity.get("name", "")), f"probe-{i}"))
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
                    name = self.unique(slug(str(activity.get("name", "")), f"method-{i}"))
                    self.workloads[name] = workload
                    self.note(path, f"a probe of the method: polled as workload '{name}' "
                              "all run long, recorded, judged by no SLO")
            else:
                command = self.command(path, activity)
                if command is not None:
                    if t <= last_action:  # faults start at fixed times: keep their order
                        self.note((*path, "pauses"), f"no pause after the previous action: "
                                  f"started 1s after it ({seconds(last_action + 1)})")
                        t = last_action + 1
                    argv, timeout = command
                    name = self.unique(slug(str(activity.get("name", "")), f"action-{i}"))
                    self.faults.append({"name": name, "kind": "command", "target": "local",
                                        "inject": argv, "timeout": seconds(timeout),
                                        "start": seconds(t)})
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
            "timeout": seconds(max(timeout, 30.0)), "start": seconds(start),
            "duration": seconds(duration), "_revert_timeout": max(timeout, 30.0)})
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
