"""The control API's OpenAPI 3.1 description, served at ``/openapi.json``.

Built from the code rather than kept beside it: the toxic types and their attributes (names,
ranges, units, streams) come from the toxic registry, so the description cannot drift from
what the server accepts.

Invariant: **every request the document calls valid is accepted** (a schema-driven fuzzer
such as schemathesis finds no valid body rejected). So each toxic type has its own body
schema (``type`` is the discriminator), addresses and names carry the exact patterns the
parser applies, and the one rule that spans fields (a ``ttl`` on a proxy needs
``enabled: false``) is an ``anyOf``. Where the server accepts more than a pattern can say
(host names that resolve, any local address to listen on) the pattern is the safe subset
and the description says the rest. The fuzz test generates requests from this document
and checks both that invariant and that every path here is routed.
"""

from __future__ import annotations

import dataclasses
from functools import cache
from typing import Any

from faultlab.proxy.schema import MAX_NAME, MAX_TTL
from faultlab.proxy.toxics import TOXIC_TYPES
from faultlab.proxy.toxics.core import IntRange, TextRange

__all__ = ["openapi_document"]

_REF = "#/components/schemas/"

# Ports and hosts, as regular expressions (a subset of what addresses.HostPort.parse takes).
_OCTET = r"(?:25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])"
_IPV4 = rf"(?:{_OCTET}\.){{3}}{_OCTET}"
_IPV6 = r"\[(?:::1?|(?:[0-9a-fA-F]{1,4}:){7}[0-9a-fA-F]{1,4})\]"
_LABEL = r"[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?"
_LAST_LABEL = r"[A-Za-z_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?"  # not all-numeric
_HOST_NAME = rf"(?:{_LABEL}\.){{0,8}}{_LAST_LABEL}"
_PORT_BODY = r"6553[0-5]|655[0-2][0-9]|65[0-4][0-9]{2}|6[0-4][0-9]{3}|[1-5][0-9]{4}"
_PORT = rf"(?:{_PORT_BODY}|[0-9]{{1,4}})"
_PORT_NONZERO = rf"(?:{_PORT_BODY}|[1-9][0-9]{{0,3}})"
# Hosts any machine can listen on: loopback, every interface.
_LOCAL = rf"(?:localhost|127\.{_OCTET}\.{_OCTET}\.{_OCTET}|0\.0\.0\.0|\[::1?\])?"
LISTEN_PATTERN = rf"^(?:{_LOCAL}:{_PORT})?$"
UPSTREAM_PATTERN = rf"^(?:{_IPV4}|{_IPV6}|{_HOST_NAME}):{_PORT_NONZERO}$"
# Any name of 1 to MAX_NAME characters without "/", except "." and "..".
NAME_PATTERN = (rf"^(?:[^/.][^/]{{0,{MAX_NAME - 1}}}|\.[^/.][^/]{{0,{MAX_NAME - 2}}}"
                rf"|\.\.[^/]{{1,{MAX_NAME - 2}}})$")


def _ref(name: str) -> dict[str, str]:
    return {"$ref": _REF + name}


def _json_body(schema: dict[str, Any]) -> dict[str, Any]:
    return {"required": True, "content": {"application/json": {"schema": schema}}}


def _answer(description: str, schema: dict[str, Any] | None = None,
            links: dict[str, Any] | None = None) -> dict[str, Any]:
    answer: dict[str, Any] = {"description": description}
    if schema is not None:
        answer["content"] = {"application/json": {"schema": schema}}
    if links:
        answer["links"] = links
    return answer


_ERRORS = {code: {"description": text, "content": {"text/plain": {"schema": _ref("Error")}}}
           for code, text in [("400", "Invalid request (the message names the field)"),
                              ("401", "Missing or wrong API token (when one is set)"),
                              ("403", "A browser User-Agent (Mozilla/...)"),
                              ("404", "No such proxy or toxic"),
                              ("409", "Name already taken"),
                              ("413", "Request body too large"),
                              ("500", "The listen address cannot be bound (Go's words: "
                                      "'listen tcp 127.0.0.1:3310: bind: address already "
                                      "in use')"),
                              ("503", "The request took longer than 25 s")]}


def _errors(*codes: str) -> dict[str, Any]:
    return {code: _ERRORS[code] for code in ("401", "403", *codes, "503")}


def _int_schema(bounds: IntRange) -> dict[str, Any]:
    return {"type": "integer", "minimum": bounds.minimum, "maximum": bounds.maximum,
            "description": bounds.unit}


def _text_schema(bounds: TextRange) -> dict[str, Any]:
    return {"type": "string", "maxLength": bounds.maximum, "pattern": "^[!-~]*$"}


def _required_attributes(kind: str) -> list[str]:
    """Attributes whose zero default is out of range, so a request must give them."""
    return [f.name for f in dataclasses.fields(TOXIC_TYPES[kind].attributes)
            if isinstance(bounds := f.metadata.get("range"), IntRange)
            and isinstance(f.default, int)
            and not bounds.minimum <= f.default <= bounds.maximum]


def _attributes_schema(kind: str) -> dict[str, Any]:
    """Unknown keys are ignored by the server (as by Toxiproxy), so they are allowed."""
    properties: dict[str, Any] = {}
    for f in dataclasses.fields(TOXIC_TYPES[kind].attributes):
        bounds = f.metadata.get("range")
        if isinstance(bounds, IntRange):
            properties[f.name] = _int_schema(bounds)
        text = f.metadata.get("text")
        if isinstance(text, TextRange):
            properties[f.name] = _text_schema(text)
    schema: dict[str, Any] = {"type": "object", "properties": properties}
    if required := _required_attributes(kind):
        schema["required"] = required
    return schema


def _update_attributes_schema() -> dict[str, Any]:
    """What a PATCH may merge into a toxic of *any* type: each attribute name with the
    strictest bounds it has in any type (a type ignores the names it does not have)."""
    ints: dict[str, IntRange] = {}
    texts: dict[str, TextRange] = {}
    for kind in TOXIC_TYPES.values():
        for f in dataclasses.fields(kind.attributes):
            bounds, text = f.metadata.get("range"), f.metadata.get("text")
            if isinstance(bounds, IntRange):
                old = ints.get(f.name, bounds)
                ints[f.name] = IntRange(min(old.maximum, bounds.maximum), bounds.unit,
                                        max(old.minimum, bounds.minimum))
            if isinstance(text, TextRange):
                texts[f.name] = TextRange(min(texts.get(f.name, text).maximum, text.maximum))
    properties = {name: _int_schema(bounds) for name, bounds in sorted(ints.items())}
    properties |= {name: _text_schema(text) for name, text in sorted(texts.items())}
    return {"type": "object", "properties": properties}


def _schemas() -> dict[str, Any]:
    # null means "the default" (create) or "unchanged" (update) wherever the server takes
    # it, as Toxiproxy's JSON decoding over defaults does; so the types say so.
    listen = {"type": ["string", "null"], "pattern": LISTEN_PATTERN, "maxLength": 200,
              "description": "host:port, [v6]:port or :port; port 0 picks a free port. Any "
                             "local address or host name that resolves to one is accepted; "
                             "one that cannot be bound answers 500. Empty: 127.0.0.1:0 (on "
                             "create) or unchanged (on update)."}
    upstream = {"type": "string", "pattern": UPSTREAM_PATTERN, "maxLength": 200,
                "description": "host:port or [v6]:port (port 1-65535); resolved on every "
                               "connection"}
    ttl = {"type": ["number", "null"], "exclusiveMinimum": 0, "maximum": MAX_TTL,
           "description": "faultlab lease in seconds: the server undoes the change itself"}
    toxicity = {"type": "number", "minimum": 0, "maximum": 1}
    stream = {"type": "string", "enum": ["upstream", "downstream"]}
    name = {"type": "string", "pattern": NAME_PATTERN,
            "description": f"1 to {MAX_NAME} characters, no '/', not '.' or '..'"}
    toxic_name = {"type": ["string", "null"], "pattern": f"^$|{NAME_PATTERN}",
                  "description": f"{name['description']}; empty or null: <type>_<stream>"}
    enabled = {"type": ["boolean", "null"]}
    observe = {"type": ["boolean", "null"],
               "description": "faultlab: record the connections and HTTP requests that "
                              "reach the upstream (GET /proxies/{proxy}/observations); "
                              "default false, null: unchanged on update"}
    # A ttl on a proxy is how long it stays disabled: only with enabled false.
    lease_rule = [{"required": ["enabled"], "properties": {"enabled": {"const": False}}},
                  {"properties": {"ttl": {"type": "null"}}}]
    toxic_bodies = []
    for kind in sorted(TOXIC_TYPES):
        needs_attributes = bool(_required_attributes(kind))
        attributes: dict[str, Any] = _ref(f"Attributes_{kind}")
        if not needs_attributes:  # null: every attribute at its default
            attributes = {"anyOf": [attributes, {"type": "null"}]}
        toxic_bodies.append({"type": "object", "required": [
            "type", *(["attributes"] if needs_attributes else [])], "properties": {
            "name": toxic_name, "type": {"const": kind},
            "stream": {"enum": [*sorted(TOXIC_TYPES[kind].streams), None],
                       "description": "case-insensitive; default "
                                      f"{TOXIC_TYPES[kind].default_stream}"},
            "toxicity": {**toxicity, "type": ["number", "null"]}, "ttl": ttl,
            "attributes": attributes}})
    proxy_create = {"type": "object", "required": ["name", "upstream"], "properties": {
        "name": name, "listen": listen, "upstream": upstream, "enabled": enabled,
        "ttl": ttl, "observe": observe,
        "toxics": {"type": ["array", "null"], "items": _ref("ToxicCreate"),
                   "description": "applied with the proxy (Toxiproxy ignores them); a name "
                                  "given again replaces the earlier toxic"}},
        "anyOf": lease_rule}
    schemas: dict[str, Any] = {
        "Error": {"type": "object", "required": ["error", "status"], "properties": {
            "error": {"type": "string"}, "status": {"type": "integer"}}},
        "PopulateError": {"type": "object", "required": ["error", "status", "proxies"],
                          "properties": {"error": {"type": "string"},
                                         "status": {"type": "integer"},
                                         "proxies": {"type": "array", "maxItems": 0}}},
        "Toxic": {"type": "object", "required": ["attributes", "name", "type", "stream",
                                                 "toxicity"], "properties": {
            "attributes": {"type": "object"}, "name": {"type": "string"},
            "type": {"type": "string"}, "stream": stream, "toxicity": toxicity,
            "ttl_remaining": {"type": ["number", "null"]}}},
        "Proxy": {"type": "object", "required": ["name", "listen", "upstream", "enabled",
                                                 "toxics"], "properties": {
            "name": {"type": "string"}, "listen": {"type": "string"},
            "upstream": {"type": "string"}, "enabled": {"type": "boolean"},
            "toxics": {"type": "array", "items": _ref("Toxic")},
            "ttl_remaining": {"type": ["number", "null"]},
            "observe": {"const": True, "description": "present only when on (faultlab)"}}},
        "ProxyCreate": proxy_create,
        "ProxyUpdate": {"type": "object", "properties": {
            "listen": listen, "upstream": {**upstream, "type": ["string", "null"],
                                           "pattern": f"^$|{UPSTREAM_PATTERN}"},
            "enabled": enabled, "ttl": ttl, "observe": observe}, "anyOf": lease_rule},
        "ToxicCreate": {"oneOf": toxic_bodies},
        "ToxicUpdate": {"type": "object", "properties": {
            "attributes": {"anyOf": [_update_attributes_schema(), {"type": "null"}]},
            "toxicity": {**toxicity, "type": ["number", "null"]}, "ttl": ttl}},
        "Instance": {"type": "object", "required": ["instance", "pid", "started"],
                     "properties": {"instance": {"type": "string"},
                                    "pid": {"type": "integer"},
                                    "started": {"type": "string", "format": "date-time"}}},
    }
    schemas |= _observation_schemas()
    for kind in sorted(TOXIC_TYPES):
        schemas[f"Attributes_{kind}"] = _attributes_schema(kind)
    return schemas


def _observation_schemas() -> dict[str, Any]:
    """The records of faultlab.proxy.observe, as their to_json() writes them."""
    time = {"type": "number", "description": "relay clock (monotonic), seconds"}
    maybe_time = {**time, "type": ["number", "null"]}
    maybe_text = {"type": ["string", "null"]}
    count = {"type": "integer", "minimum": 0}
    request = {"type": "object", "required": [
        "type", "proxy", "conn", "seq", "method", "path", "trace_id", "request_id", "start",
        "response", "status", "end", "outcome"], "properties": {
        "type": {"const": "request"}, "proxy": {"type": "string"},
        "conn": {"type": "integer", "minimum": 1}, "seq": count,
        "method": {"type": "string"}, "path": {"type": "string"},
        "trace_id": {"type": ["string", "null"], "pattern": "^[0-9a-f]{32}$",
                     "description": "of a valid W3C traceparent request header"},
        "request_id": {**maybe_text, "maxLength": 128,
                       "description": "the X-Request-Id request header"},
        "start": {**time, "description": "the request head was complete at the proxy"},
        "response": {**maybe_time, "description": "a final response head was complete"},
        "status": {"type": ["integer", "null"]},
        "end": {**maybe_time, "description": "response, or when it stopped waiting"},
        "outcome": {"enum": ["response", "injected", "closed", "open"]}}}
    connection = {"type": "object", "required": [
        "type", "proxy", "conn", "client", "opened", "closed", "reason", "bytes_up",
        "bytes_down", "requests"], "properties": {
        "type": {"const": "connection"}, "proxy": {"type": "string"},
        "conn": {"type": "integer", "minimum": 1}, "client": {"type": "string"},
        "opened": time, "closed": maybe_time, "reason": maybe_text,
        "bytes_up": count, "bytes_down": count, "requests": count}}
    numbered = {"type": "object", "required": ["n"], "properties": {"n": count}}
    return {
        "RequestObservation": request,
        "ConnectionObservation": connection,
        "Observations": {"type": "object", "required": [
            "proxy", "next", "dropped", "records", "open"], "properties": {
            "proxy": {"type": "string"},
            "next": {**count, "description": "the since of the next call"},
            "dropped": {**count, "description": "records the ring let go, in all"},
            "records": {"type": "array", "items": {"oneOf": [
                {"allOf": [numbered, _ref("RequestObservation")]},
                {"allOf": [numbered, _ref("ConnectionObservation")]}]}},
            "open": {"type": "array", "items": _ref("RequestObservation")}}},
    }


_HEADERS = {
    "X-Faultlab-Instance": {"description": "This server's instance id (faultlab only)",
                            "schema": {"type": "string"}},
    "X-Toxiproxy-Request-Id": {"description": "A random id of this request",
                               "schema": {"type": "string"}},
}


def _with_headers(paths: dict[str, Any]) -> None:
    for item in paths.values():
        for method, operation in item.items():
            if method == "parameters":
                continue
            for response in operation["responses"].values():
                response.setdefault("headers", {}).update(_HEADERS)


def _links() -> tuple[dict[str, Any], dict[str, Any]]:
    """Links for stateful fuzzing: a created proxy's and toxic's operations."""
    proxy_ops = {f"{verb}Proxy": {"operationId": f"{verb.lower()}Proxy",
                                  "parameters": {"proxy": "$response.body#/name"}}
                 for verb in ("Get", "Update", "Delete", "ListToxics", "CreateToxic")}
    toxic_ops = {f"{verb}Toxic": {"operationId": f"{verb.lower()}Toxic",
                                  "parameters": {"proxy": "$request.path.proxy",
                                                 "toxic": "$response.body#/name"}}
                 for verb in ("Get", "Update", "Delete")}
    return proxy_ops, toxic_ops


@cache
def openapi_document() -> dict[str, Any]:
    proxy_param = {"name": "proxy", "in": "path", "required": True,
                   "schema": {"type": "string"}}
    toxic_param = {"name": "toxic", "in": "path", "required": True,
                   "schema": {"type": "string"}}
    proxy_links, toxic_links = _links()
    proxy_json = {"200": _answer("The proxy", _ref("Proxy"))}
    toxic_json = {"200": _answer("The toxic", _ref("Toxic"))}
    body_errors = ("400", "404", "413")

    def update_proxy(operation_id: str) -> dict[str, Any]:
        return {"operationId": operation_id, "requestBody": _json_body(_ref("ProxyUpdate")),
                "responses": {**proxy_json, **_errors(*body_errors, "500")}}

    def update_toxic(operation_id: str) -> dict[str, Any]:
        return {"operationId": operation_id, "requestBody": _json_body(_ref("ToxicUpdate")),
                "responses": {**toxic_json, **_errors(*body_errors)}}

    paths: dict[str, Any] = {
        "/version": {"get": {"responses": {"200": _answer("Toxiproxy API version", {
            "type": "object", "properties": {"version": {"type": "string"}}}), **_errors()}}},
        "/proxies": {
            "get": {"responses": {"200": _answer("Proxies by name", {
                "type": "object", "additionalProperties": _ref("Proxy")}), **_errors()}},
            "post": {"operationId": "createProxy",
                     "requestBody": _json_body(_ref("ProxyCreate")), "responses": {
                         "201": _answer("Created", _ref("Proxy"), proxy_links),
                         **_errors("400", "409", "413", "500")}}},
        "/proxies/{proxy}": {
            "parameters": [proxy_param],
            "get": {"operationId": "getProxy",
                    "responses": {**proxy_json, **_errors("404")}},
            "post": update_proxy("postProxy"), "patch": update_proxy("updateProxy"),
            "delete": {"operationId": "deleteProxy",
                       "responses": {"204": _answer("Deleted"), **_errors("404")}}},
        "/proxies/{proxy}/toxics": {
            "parameters": [proxy_param],
            "get": {"operationId": "listtoxicsProxy",
                    "responses": {"200": _answer("Upstream toxics, then downstream", {
                        "type": "array", "items": _ref("Toxic")}), **_errors("404")}},
            "post": {"operationId": "createtoxicProxy",
                     "requestBody": _json_body(_ref("ToxicCreate")), "responses": {
                         "200": _answer("The toxic", _ref("Toxic"), toxic_links),
                         **_errors(*body_errors, "409")}}},
        "/proxies/{proxy}/toxics/{toxic}": {
            "parameters": [proxy_param, toxic_param],
            "get": {"operationId": "getToxic",
                    "responses": {**toxic_json, **_errors("404")}},
            "post": update_toxic("postToxic"), "patch": update_toxic("updateToxic"),
            "delete": {"operationId": "deleteToxic",
                       "responses": {"204": _answer("Deleted"), **_errors("404")}}},
        "/proxies/{proxy}/observations": {
            "parameters": [proxy_param],
            "get": {"operationId": "observationsProxy", "parameters": [
                {"name": "since", "in": "query", "schema": {"type": "integer", "minimum": 0,
                                                            "default": 0}},
                {"name": "limit", "in": "query", "schema": {
                    "type": "integer", "minimum": 1, "maximum": 100_000, "default": 10_000}}],
                    "responses": {"200": _answer(
                        "faultlab: the records numbered since or later, finished, and the "
                        "requests still open (none unless the proxy observes)",
                        _ref("Observations")), **_errors("400", "404")}}},
        "/populate": {"post": {
            "requestBody": _json_body({"type": "array", "items": _ref("ProxyCreate")}),
            "responses": {
                "201": _answer("All applied (one proxy per entry; a name given again "
                               "replaces its earlier entry)", {
                                   "type": "object", "properties": {"proxies": {
                                       "type": ["array", "null"], "items": _ref("Proxy")}}}),
                **_errors(),
                **{code: _answer(text, _ref("PopulateError")) for code, text in [
                    ("400", "Invalid entry; nothing changed"),
                    ("413", "Request body too large"),
                    ("500", "A listen address cannot be bound; nothing changed")]}}}},
        "/reset": {"post": {"responses": {"204": _answer("Every proxy enabled, every toxic "
                                                         "removed"), **_errors("500")}}},
        "/metrics": {"get": {"responses": {"200": {
            "description": "Prometheus text format",
            "content": {"text/plain": {"schema": {"type": "string"}}}}, **_errors()}}},
        "/openapi.json": {"get": {"responses": {"200": _answer("This document",
                                                               {"type": "object"}),
                                                **_errors()}}},
        "/faultlab/instance": {"get": {"responses": {"200": _answer(
            "This server's identity: the id in every response's X-Faultlab-Instance header, "
            "its process id and start time (faultlab only; Toxiproxy answers 404)",
            _ref("Instance")), **_errors()}}},
    }
    _with_headers(paths)
    return {
        "openapi": "3.1.0",
        "info": {"title": "faultlab proxy (Toxiproxy-compatible API)", "version": "2.12.0",
                 "description": "Toxiproxy 2.12 API plus faultlab's leases (ttl), toxics, "
                                "metrics, instance identity and all-or-nothing populate. See "
                                "docs/proxy.md."},
        "components": {"schemas": _schemas(), "securitySchemes": {
            "bearer": {"type": "http", "scheme": "bearer"}}},
        "security": [{}, {"bearer": []}],
        "paths": paths,
    }
