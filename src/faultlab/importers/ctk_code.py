"""The small Python programs a converted experiment runs with ``python3 -c`` where faultlab
has no kind of its own: a Chaos Toolkit ``python`` provider (import a module, call a function
with its arguments, judge the result by the probe's tolerance as Chaos Toolkit does), a
probe whose tolerance is a probe (ask an http or process probe, hand its result to a python
function as ``value``) and an ``http`` action (one request; faultlab's probes ask HTTP, but
no fault kind does).

Each program is a fixed text; what varies is passed as separate arguments (JSON, or plain
strings), so no value is ever spliced into code and no quoting can go wrong. A string that
holds a secret read from the environment (``${env:NAME}`` in the converted file) travels as
an argument of its own: faultlab substitutes it in the argv and masks it in journals, and the
JSON around it stays valid whatever the secret holds.
"""

from __future__ import annotations

from typing import Any

__all__ = ["ARGV_KEY", "HTTP_ACTION", "PROBE_TOLERANCE", "PYTHON_CALL", "split_secrets"]

#: the key of a mapping that stands for ``sys.argv[n]`` in the JSON arguments
ARGV_KEY = "__faultlab_argv__"



def _args(first: int) -> str:
    """Shared by the programs: the JSON arguments with their argv strings put back."""
    return (f"import json, sys\nextra = sys.argv[{first}:]\n"
            "def back(v):\n"
            "    if isinstance(v, dict):\n"
            f"        if set(v) == {{{ARGV_KEY!r}}}:\n"
            f"            return extra[v[{ARGV_KEY!r}]]\n"
            "        return {k: back(w) for k, w in v.items()}\n"
            "    if isinstance(v, list):\n"
            "        return [back(w) for w in v]\n"
            "    return v\n")


#: argv: module, function, arguments (JSON), call (JSON: configuration and secrets to pass
#: where the function takes them), check (JSON), then the argv strings
# Judges ``value`` (the probe's result) by ``check`` as Chaos Toolkit's tolerances do, and
# exits 0 when it holds.
_CHECK = """
kind = check["kind"]
if kind == "none":
    sys.exit(0)
if kind == "probe":  # a probe as tolerance: a function given the whole result as value
    tfunc = getattr(importlib.import_module(check["module"]), check["func"])
    targs = dict(check["arguments"], value=value)
    for name in ("configuration", "secrets"):
        if name in inspect.signature(tfunc).parameters:
            targs[name] = call[name]
    sys.exit(0 if tfunc(**targs) else 1)
target = check.get("target")
if target and isinstance(value, dict):
    value = value.get(target, value)
if kind == "equals":
    t = check["value"]
    if isinstance(t, int) and not isinstance(t, bool) and isinstance(value, dict) and (
            "status" in value):
        value = value["status"]
    ok = value == t
elif kind == "list":
    t = check["value"]
    if isinstance(value, dict) and "status" in value:
        ok = value["status"] in t
    elif len(t) == 2:
        try:
            ok = t[0] <= value <= t[1]
        except TypeError:
            ok = False
    else:
        ok = value in t
elif kind == "range":
    try:
        ok = Decimal(str(check["low"])) <= Decimal(value) <= Decimal(str(check["high"]))
    except (InvalidOperation, TypeError, ValueError):
        ok = False
elif kind == "regex":
    ok = isinstance(value, str) and re.search(check["pattern"], value) is not None
elif kind == "print":
    if isinstance(value, bytes):
        value = value.decode("utf-8")
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            pass
    print(json.dumps(value))
    ok = True
else:
    ok = False
sys.exit(0 if ok else 1)
"""

_IMPORTS = """
import importlib, inspect, re
from decimal import Decimal, InvalidOperation
"""


def _python_call() -> str:
    return _args(6) + _IMPORTS + """
func = getattr(importlib.import_module(sys.argv[1]), sys.argv[2])
kwargs = back(json.loads(sys.argv[3]))
call = back(json.loads(sys.argv[4]))
check = back(json.loads(sys.argv[5]))
for name in ("configuration", "secrets"):
    if name in inspect.signature(func).parameters:
        kwargs[name] = call[name]
value = func(**kwargs)
""" + _CHECK


def _probe_tolerance() -> str:
    return _args(4) + _IMPORTS + """
import subprocess, urllib.error, urllib.request
source = back(json.loads(sys.argv[1]))
call = back(json.loads(sys.argv[2]))
check = back(json.loads(sys.argv[3]))
if "http" in source:  # the result Chaos Toolkit's http provider gives: status, headers, body
    h = source["http"]
    body = h["body"].encode() if h["body"] is not None else None
    request = urllib.request.Request(h["url"], data=body, headers=h["headers"],
                                     method=h["method"])
    try:
        with urllib.request.urlopen(request, timeout=h["timeout"]) as r:
            status, headers, raw = r.status, dict(r.headers), r.read()
    except urllib.error.HTTPError as e:
        status, headers, raw = e.code, dict(e.headers), e.read()
    except (OSError, ValueError) as e:
        sys.exit(f"{h['method']} {h['url']}: {e}")
    text = raw.decode("utf-8", "replace")
    content = text
    if headers.get("Content-Type", "").split(";")[0].strip() == "application/json":
        try:
            content = json.loads(text)
        except ValueError:
            pass
    value = {"status": status, "headers": headers, "body": content}
else:  # a process's: status, stdout, stderr
    p = source["process"]
    done = subprocess.run(p["argv"], capture_output=True, timeout=p["timeout"])
    value = {"status": done.returncode, "stdout": done.stdout.decode("utf-8", "replace"),
             "stderr": done.stderr.decode("utf-8", "replace")}
""" + _CHECK


PYTHON_CALL = _python_call()
#: argv: the probe (JSON: {"http": {...}} or {"process": {"argv", "timeout"}}), call (JSON),
#: check (JSON: a probe as tolerance), then the argv strings
PROBE_TOLERANCE = _probe_tolerance()

#: argv: method, url, headers (JSON), body (or the empty string for none), expected status
#: (JSON: null for any), timeout in seconds, then the argv strings
HTTP_ACTION = _args(7) + """
import urllib.error, urllib.request
headers = back(json.loads(sys.argv[3]))
body = sys.argv[4].encode() if sys.argv[4] else None
expected = json.loads(sys.argv[5])
request = urllib.request.Request(sys.argv[2], data=body, headers=headers, method=sys.argv[1])
try:
    with urllib.request.urlopen(request, timeout=float(sys.argv[6])) as response:
        status = response.status
except urllib.error.HTTPError as e:
    status = e.code
except (OSError, ValueError) as e:
    sys.exit(f"{sys.argv[1]} {sys.argv[2]}: {e}")
if expected is not None and status != expected:
    sys.exit(f"{sys.argv[1]} {sys.argv[2]}: status {status}, expected {expected}")
"""


def split_secrets(value: Any, marker: str, extra: list[str]) -> Any:
    """``value`` with every string that holds ``marker`` (a secret's placeholder) replaced by
    ``{ARGV_KEY: i}`` and appended to ``extra`` as argument ``i``."""
    if isinstance(value, str) and marker in value:
        extra.append(value)
        return {ARGV_KEY: len(extra) - 1}
    if isinstance(value, dict):
        return {k: split_secrets(v, marker, extra) for k, v in value.items()}
    if isinstance(value, list):
        return [split_secrets(v, marker, extra) for v in value]
    return value
