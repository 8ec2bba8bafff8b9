"""The small Python programs a converted experiment runs with ``python3 -c`` where faultlab
has no kind of its own: a Chaos Toolkit ``python`` provider (import a module, call a function
with its arguments, judge the result by the probe's tolerance as Chaos Toolkit does) and an
``http`` action (one request; faultlab's probes ask HTTP, but a fault kind does not).

Each program is a fixed text; what varies is passed as separate arguments (JSON, or plain
strings), so no value is ever spliced into code and no quoting can go wrong. A string that
holds a secret read from the environment (``${env:NAME}`` in the converted file) travels as
an argument of its own: faultlab substitutes it in the argv and masks it in journals, and the
JSON around it stays valid whatever the secret holds.
"""

from __future__ import annotations

from typing import Any

__all__ = ["ARGV_KEY", "HTTP_ACTION", "PYTHON_CALL", "split_secrets"]

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
def _python_call() -> str:
    return _args(6) + """
import importlib, inspect, re
from decimal import Decimal, InvalidOperation
func = getattr(importlib.import_module(sys.argv[1]), sys.argv[2])
kwargs = back(json.loads(sys.argv[3]))
call = back(json.loads(sys.argv[4]))
check = json.loads(sys.argv[5])
params = inspect.signature(func).parameters
for name in ("configuration", "secrets"):
    if name in params:
        kwargs[name] = call[name]
value = func(**kwargs)
kind = check["kind"]
if kind == "none":
    sys.exit(0)
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


PYTHON_CALL = _python_call()

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
