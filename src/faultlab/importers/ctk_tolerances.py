"""Chaos Toolkit tolerances as the checks of faultlab's probe workloads (http and
process probes), or as the check the python program makes (python probes)."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any, Literal

from faultlab.importers.ctk_base import Base, Path
from faultlab.workload.probe import JsonPathError, parse_jsonpath

__all__ = ["Tolerances"]


@dataclass(frozen=True)
class _Codes:
    """How a probe's code is named and bounded in the tolerances that compare it."""
    probe: str
    name: str
    one: str
    plural: str
    bad: str
    low: int
    high: int
    key: str
    listed: bool
    whole: str
    hint: str


HTTP_STATUS = _Codes(probe="an http probe", name="status", one="HTTP status",
                     plural="statuses", bad="an HTTP status", low=100, high=599,
                     key="expect_status", listed=True,
                     whole="http response (status, headers, body)",
                     hint="write a status, or a regex on the body")
EXIT_CODE = _Codes(probe="a process probe", name="exit code", one="exit code",
                   plural="exit codes", bad="an exit code (0-255)", low=0, high=255,
                   key="expect_exit", listed=False,
                   whole="process result (status, stdout, stderr)",
                   hint="write an exit code, or a regex on stdout")


class Tolerances(Base):
    """Each tolerance form, checked (a malformed one is bad input), then mapped per provider:
    a check faultlab's probe makes, or a line naming why it is not converted."""

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

    def _coded(self, path: Path, form: str, tolerance: Any, codes: _Codes
               ) -> dict[str, Any] | Literal[False] | None:
        """The forms that compare a probe's code (HTTP status, exit code): its checks, None
        after a problem, or False when ``form`` is not one of them."""
        if form == "none":
            return {}
        if form == "int":
            if not codes.low <= tolerance <= codes.high:
                self._bad_tolerance(path, f"{tolerance} is not {codes.bad}")
                return None
            return {codes.key: [tolerance] if codes.listed else tolerance}
        if form == "list":
            if tolerance and all(isinstance(x, int) and not isinstance(x, bool)
                                 and codes.low <= x <= codes.high for x in tolerance):
                return {codes.key: list(tolerance)}
            self.unconverted(path, f"Chaos Toolkit compares a list tolerance of {codes.probe} "
                             f"with its {codes.name}; this list is not of {codes.plural}")
            return {}
        if form in ("bool", "str"):
            self.unconverted(path, f"a {form} tolerance is compared with the whole "
                             f"{codes.whole}, which it never equals; not converted "
                             f"({codes.hint})")
            return {}
        if form == "range" and tolerance.get("target") == "status":
            low, high = tolerance["range"]
            found = list(range(max(codes.low, math.ceil(low)),
                               min(codes.high, math.floor(high)) + 1))
            if not found:
                self._bad_tolerance((*path, "range"), f"the range holds no {codes.one}")
                return None
            return {codes.key: found}
        return False

    def http_checks(self, path: Path, tolerance: Any) -> dict[str, Any] | None:
        form = self._typed(path, tolerance)
        if form is None:
            return None
        coded = self._coded(path, form, tolerance, HTTP_STATUS)
        if coded is not False:
            return coded
        target = tolerance.get("target")
        if form == "range":
            if target == "body":
                low, high = tolerance["range"]
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
        coded = self._coded(path, form, tolerance, EXIT_CODE)
        if coded is not False:
            return coded
        target = tolerance.get("target")
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

