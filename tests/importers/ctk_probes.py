"""Python probe functions, as a Chaos Toolkit extension would have them: the converted
experiments call these with ``python -c`` (module tests.importers.ctk_probes)."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any


def answer(base: str) -> dict[str, Any]:
    """What Chaos Toolkit's http provider returns: status, headers, body."""
    try:
        with urllib.request.urlopen(base + "/health", timeout=5) as r:
            return {"status": r.status, "headers": dict(r.headers),
                    "body": json.loads(r.read())}
    except urllib.error.HTTPError as e:
        return {"status": e.code, "headers": dict(e.headers), "body": json.loads(e.read())}


def healthy(base: str) -> bool:
    return bool(answer(base)["status"] == 200)


def status(base: str) -> str:
    return str(answer(base)["body"]["status"])


def load(base: str) -> int:
    return int(answer(base)["body"]["load"])


def touch(path: str) -> None:
    with open(path, "w") as f:
        f.write("x")


def given(base: str, configuration: dict[str, Any], secrets: dict[str, Any]) -> bool:
    """True when Chaos Toolkit's configuration and secrets arrived as it passes them."""
    return bool(configuration.get("base") == base and secrets.get("svc", {}).get("token"))


# Probes as tolerances: given the probe's whole result as ``value``, as Chaos Toolkit
# passes it.

def answer_is_up(value: dict[str, Any]) -> bool:
    return bool(value["status"] == 200 and value["body"]["checks"][0]["state"] == "up")


def stdout_says(value: dict[str, Any], word: str) -> bool:
    return word in str(value["stdout"])


def below(value: int, limit: int) -> bool:
    return value < limit
