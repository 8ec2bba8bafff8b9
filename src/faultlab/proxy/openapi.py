"""The control API's OpenAPI 3.1 description, served at ``/openapi.json``.

Built from the code rather than kept beside it: the toxic types and their attributes (names,
ranges, units) come from the toxic registry, so the description cannot drift from what the
server accepts. The fuzz test generates requests from it and checks that every path here is
routed.
"""

from __future__ import annotations

import dataclasses
from functools import cache
from typing import Any

from faultlab.proxy.toxics import TOXIC_TYPES
from faultlab.proxy.toxics.core import IntRange, TextRange

__all__ = ["openapi_document"]

_REF = "#/components/schemas/"


def _ref(name: str) -> dict[str, str]:
    return {"$ref": _REF + name}


def _json_body(schema: dict[str, Any]) -> dict[str, Any]:
    return {"required": True, "content": {"application/json": {"schema": schema}}}


def _answer(description: str, schema: dict[str, Any] | None = None) -> dict[str, Any]:
    if schema is None:
        return {"description": description}
    return {"description": description, "content": {"application/json": {"schema": schema}}}


_ERRORS = {code: {"description": text, "content": {"text/plain": {"schema": _ref("Error")}}}
           for code, text in [("400", "Invalid request (the message names the field)"),
                              ("401", "Missing or wrong API token (when one is set)"),
                              ("403", "A browser User-Agent (Mozilla/...)"),
                              ("404", "No such proxy or toxic"),
                              ("409", "Name already taken"),
                              ("500", "The listen address cannot be resolved or bound")]}


def _errors(*codes: str) -> dict[str, Any]:
    return {code: _ERRORS[code] for code in ("401", "403", *codes)}


def _attributes_schema(kind: str) -> dict[str, Any]:
    properties: dict[str, Any] = {}
    for f in dataclasses.fields(TOXIC_TYPES[kind].attributes):
        bounds = f.metadata.get("range")
        if isinstance(bounds, IntRange):
            properties[f.name] = {"type": "integer", "minimum": 0, "maximum": bounds.maximum,
                                  "description": bounds.unit}
        text = f.metadata.get("text")
        if isinstance(text, TextRange):
            properties[f.name] = {"type": "string", "maxLength": text.maximum,
                                  "pattern": "^[!-~]*$"}
    return {"type": "object", "properties": properties}


def _schemas() -> dict[str, Any]:
    address = {"type": "string", "description": "host:port, [v6]:port or :port"}
    ttl = {"type": ["number", "null"], "exclusiveMinimum": 0, "maximum": 30 * 86400,
           "description": "faultlab lease in seconds: the server undoes the change itself"}
    toxicity = {"type": "number", "minimum": 0, "maximum": 1}
    stream = {"type": "string", "enum": ["upstream", "downstream"]}
    name = {"type": "string", "minLength": 1, "maxLength": 200, "pattern": "^[^/]+$"}
    toxic_create = {"type": "object", "required": ["type"], "properties": {
        "name": name, "type": {"type": "string", "enum": sorted(TOXIC_TYPES)},
        "stream": stream, "toxicity": toxicity, "ttl": ttl,
        "attributes": {"oneOf": [_ref(f"Attributes_{kind}") for kind in sorted(TOXIC_TYPES)]},
    }}
    proxy_create = {"type": "object", "required": ["name", "upstream"], "properties": {
        "name": name, "listen": address, "upstream": address, "enabled": {"type": "boolean"},
        "ttl": ttl, "toxics": {"type": "array", "items": _ref("ToxicCreate")}}}
    schemas: dict[str, Any] = {
        "Error": {"type": "object", "required": ["error", "status"], "properties": {
            "error": {"type": "string"}, "status": {"type": "integer"}}},
        "Toxic": {"type": "object", "required": ["attributes", "name", "type", "stream",
                                                 "toxicity"], "properties": {
            "attributes": {"type": "object"}, "name": {"type": "string"},
            "type": {"type": "string"}, "stream": stream, "toxicity": toxicity,
            "ttl_remaining": {"type": ["number", "null"]}}},
        "Proxy": {"type": "object", "required": ["name", "listen", "upstream", "enabled",
                                                 "toxics"], "properties": {
            "name": {"type": "string"}, "listen": address, "upstream": address,
            "enabled": {"type": "boolean"}, "toxics": {"type": "array", "items": _ref("Toxic")},
            "ttl_remaining": {"type": ["number", "null"]}}},
        "ProxyCreate": proxy_create,
        "ProxyUpdate": {"type": "object", "properties": {
            "listen": address, "upstream": address, "enabled": {"type": "boolean"},
            "ttl": ttl}},
        "ToxicCreate": toxic_create,
        "ToxicUpdate": {"type": "object", "properties": {
            "attributes": {"type": "object"}, "toxicity": toxicity, "ttl": ttl}},
    }
    for kind in sorted(TOXIC_TYPES):
        schemas[f"Attributes_{kind}"] = _attributes_schema(kind)
    return schemas


@cache
def openapi_document() -> dict[str, Any]:
    proxy_param = {"name": "proxy", "in": "path", "required": True,
                   "schema": {"type": "string"}}
    toxic_param = {"name": "toxic", "in": "path", "required": True,
                   "schema": {"type": "string"}}
    proxy_json = {"200": _answer("The proxy", _ref("Proxy"))}
    toxic_json = {"200": _answer("The toxic", _ref("Toxic"))}
    update_proxy = {"requestBody": _json_body(_ref("ProxyUpdate")),
                    "responses": {**proxy_json, **_errors("400", "404", "500")}}
    update_toxic = {"requestBody": _json_body(_ref("ToxicUpdate")),
                    "responses": {**toxic_json, **_errors("400", "404")}}
    paths: dict[str, Any] = {
        "/version": {"get": {"responses": {"200": _answer("Toxiproxy API version", {
            "type": "object", "properties": {"version": {"type": "string"}}})}}},
        "/proxies": {
            "get": {"responses": {"200": _answer("Proxies by name", {
                "type": "object", "additionalProperties": _ref("Proxy")}), **_errors()}},
            "post": {"requestBody": _json_body(_ref("ProxyCreate")), "responses": {
                "201": _answer("Created", _ref("Proxy")), **_errors("400", "409", "500")}}},
        "/proxies/{proxy}": {
            "parameters": [proxy_param],
            "get": {"responses": {**proxy_json, **_errors("404")}},
            "post": update_proxy, "patch": update_proxy,
            "delete": {"responses": {"204": _answer("Deleted"), **_errors("404")}}},
        "/proxies/{proxy}/toxics": {
            "parameters": [proxy_param],
            "get": {"responses": {"200": _answer("Upstream toxics, then downstream", {
                "type": "array", "items": _ref("Toxic")}), **_errors("404")}},
            "post": {"requestBody": _json_body(_ref("ToxicCreate")), "responses": {
                **toxic_json, **_errors("400", "404", "409")}}},
        "/proxies/{proxy}/toxics/{toxic}": {
            "parameters": [proxy_param, toxic_param],
            "get": {"responses": {**toxic_json, **_errors("404")}},
            "post": update_toxic, "patch": update_toxic,
            "delete": {"responses": {"204": _answer("Deleted"), **_errors("404")}}},
        "/populate": {"post": {
            "requestBody": _json_body({"type": "array", "items": _ref("ProxyCreate")}),
            "responses": {"201": _answer("All applied", {"type": "object", "properties": {
                "proxies": {"type": ["array", "null"], "items": _ref("Proxy")}}}),
                **_errors("400", "500")}}},
        "/reset": {"post": {"responses": {"204": _answer("Every proxy enabled, every toxic "
                                                         "removed"), **_errors("500")}}},
        "/metrics": {"get": {"responses": {"200": {
            "description": "Prometheus text format",
            "content": {"text/plain": {"schema": {"type": "string"}}}}}}},
        "/openapi.json": {"get": {"responses": {"200": _answer("This document",
                                                               {"type": "object"})}}},
    }
    return {
        "openapi": "3.1.0",
        "info": {"title": "faultlab proxy (Toxiproxy-compatible API)", "version": "2.12.0",
                 "description": "Toxiproxy 2.12 API plus faultlab's leases (ttl), toxics, "
                                "metrics and all-or-nothing populate. See docs/proxy.md."},
        "components": {"schemas": _schemas(), "securitySchemes": {
            "bearer": {"type": "http", "scheme": "bearer"}}},
        "security": [{}, {"bearer": []}],
        "paths": paths,
    }
