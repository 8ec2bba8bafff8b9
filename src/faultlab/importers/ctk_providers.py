"""Chaos Toolkit providers (http, process, python) as faultlab commands and probe
workloads; configuration and secrets substituted as Chaos Toolkit does."""

from __future__ import annotations

import json
import re
import shlex
from typing import Any
from urllib.parse import urlencode

from faultlab.importers.ctk_base import Path, seconds
from faultlab.importers.ctk_code import (
    split_secrets,
)
from faultlab.importers.ctk_tolerances import Tolerances
from faultlab.importers.ctk_values import CODE, MARK, has_secret

__all__ = ["Providers"]


class Providers(Tolerances):
    """Activities' providers as commands (actions) and probe workloads (probes)."""

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
                             f"{value!r}; {seconds(default)} used")
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
        workload: dict[str, Any] = {"kind": "probe", "every": seconds(self.options.every),
                                    "timeout": seconds(timeout)}
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
