"""The OpenAPI document's invariant: every request it calls valid is accepted.

Requests are generated from the document itself (the JSON Schema subset it uses: $ref,
type, const, enum, pattern, lengths, bounds, properties/required, anyOf/oneOf, items), sent
to a real server, and must not get a 400, nor a 5xx other than a listen address that
cannot be bound (Go's ``listen tcp ...: bind: ...``). This is what schemathesis's
"schema-valid request rejected" check looks for, which found four such bodies before.
"""

from __future__ import annotations

import http.client
import json
import math
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from faultlab.proxy.openapi import (
    LISTEN_PATTERN,
    NAME_PATTERN,
    UPSTREAM_PATTERN,
    openapi_document,
)

from .threaded import ThreadedServer, threaded_server

DOCUMENT = openapi_document()
Schema = dict[str, Any]


def _resolve(schema: Schema) -> Schema:
    while "$ref" in schema:
        schema = DOCUMENT["components"]["schemas"][schema["$ref"].rpartition("/")[2]]
    return schema


def _merge(base: Schema, branch: Schema) -> Schema:
    """``base`` and ``branch`` both hold; the branch's property schemas are the narrower."""
    merged = {key: value for key, value in base.items() if key not in ("anyOf", "oneOf")}
    merged["required"] = sorted({*base.get("required", []), *branch.get("required", [])})
    merged["properties"] = {**base.get("properties", {}), **branch.get("properties", {})}
    return merged


def from_schema(schema: Schema) -> st.SearchStrategy[Any]:
    schema = _resolve(schema)
    for combinator in ("anyOf", "oneOf"):
        if combinator in schema:
            return st.sampled_from(schema[combinator]).flatmap(
                lambda branch: from_schema(_merge(schema, _resolve(branch))
                                           if "type" in schema else branch))
    if "const" in schema:
        return st.just(schema["const"])
    if "enum" in schema:
        return st.sampled_from(schema["enum"])
    types = schema.get("type", "object")
    if isinstance(types, list):
        return st.one_of([from_schema({**schema, "type": t}) for t in types])
    if types == "null":
        return st.none()
    if types == "boolean":
        return st.booleans()
    if types == "integer":
        return st.integers(schema.get("minimum", -(2**40)), schema.get("maximum", 2**40))
    if types == "number":
        low = schema.get("exclusiveMinimum", schema.get("minimum", -1e9))
        return st.floats(low, schema.get("maximum", 1e9), allow_nan=False,
                         exclude_min="exclusiveMinimum" in schema)
    if types == "string":
        strings: st.SearchStrategy[str]
        if "pattern" in schema:
            strings = st.from_regex(str(schema["pattern"]), fullmatch=True)
        else:
            strings = st.text(max_size=20)
        longest = schema.get("maxLength", math.inf)
        return strings.filter(lambda s: schema.get("minLength", 0) <= len(s) <= longest)
    if types == "array":
        return st.lists(from_schema(schema.get("items", {})), max_size=min(
            schema.get("maxItems", 3), 3))
    required = set(schema.get("required", []))
    properties = schema.get("properties", {})
    return st.fixed_dictionaries(
        {name: from_schema(sub) for name, sub in properties.items() if name in required},
        optional={name: from_schema(sub) for name, sub in properties.items()
                  if name not in required})


def _operations() -> Iterator[tuple[str, str]]:
    for path, item in DOCUMENT["paths"].items():
        for method, operation in item.items():
            if method != "parameters" and "requestBody" in operation:
                yield method.upper(), path


@pytest.fixture(scope="module")
def running() -> Iterator[ThreadedServer]:
    with threaded_server() as threaded:
        yield threaded


def _send(running: ThreadedServer, method: str, path: str,
          body: object = None) -> tuple[int, str]:
    address = running.server.address
    assert address is not None
    connection = http.client.HTTPConnection(address.host, address.port, timeout=30)
    try:
        data = None if body is None else json.dumps(body).encode()
        connection.request(method, path, body=data,
                           headers={"Content-Type": "application/json"})
        response = connection.getresponse()
        return response.status, response.read().decode()
    finally:
        connection.close()


def _fixture_state(running: ThreadedServer) -> None:
    """Only proxy "db" (upstream of nothing) with toxic "t", as every example starts."""
    _, text = _send(running, "GET", "/proxies")
    for name in json.loads(text):
        if name != "db":
            _send(running, "DELETE", "/proxies/" + quote(name, safe=""))
    _send(running, "POST", "/proxies", {"name": "db", "upstream": "127.0.0.1:9"})
    _send(running, "PATCH", "/proxies/db", {"listen": "127.0.0.1:0", "enabled": True,
                                            "upstream": "127.0.0.1:9"})
    _send(running, "POST", "/proxies/db/toxics", {"type": "noop", "name": "t"})


@pytest.mark.parametrize(("method", "path"), list(_operations()))
def test_every_schema_valid_body_is_accepted(running: ThreadedServer, method: str,
                                             path: str) -> None:
    operation = DOCUMENT["paths"][path][method.lower()]
    schema = operation["requestBody"]["content"]["application/json"]["schema"]
    target = path.replace("{proxy}", "db").replace("{toxic}", "t")

    @settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
    @given(from_schema(schema))
    def check(body: object) -> None:
        _fixture_state(running)
        status, text = _send(running, method, target, body)
        if status >= 500:
            assert status == 500 and " bind: " in json.loads(text)["error"], (body, text)
        else:
            assert status in (200, 201, 204, 409), (body, status, text)

    check()


@pytest.mark.parametrize(("pattern", "good", "bad"), [
    (LISTEN_PATTERN, ["", ":0", "127.0.0.1:8474", "[::1]:1", "localhost:65535"],
     ["127.0.0.1", "127.0.0.1:65536", "x:1", "127.0.0.1:\u0661"]),
    (UPSTREAM_PATTERN, ["db:5432", "my_service.internal:1", "10.0.0.1:65535", "[::1]:9"],
     ["db:0", "db", "127.1:80", "-x:1", "[::1]:0"]),
    (NAME_PATTERN, ["a", "...", ".a", "a.b", "ü", " "], ["", ".", "..", "a/b", "x" * 201]),
])
def test_the_patterns_mean_what_they_say(pattern: str, good: list[str],
                                         bad: list[str]) -> None:
    import re

    assert all(re.fullmatch(pattern, text) for text in good)
    assert not any(re.fullmatch(pattern, text) for text in bad)
