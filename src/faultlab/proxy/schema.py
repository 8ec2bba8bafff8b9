"""The API's JSON: request bodies in (validated into typed requests), objects out.

This is the only module that turns JSON into proxy objects. Every invalid value becomes an
:class:`~faultlab.proxy.model.ApiError` with a 400 and a message naming the field, so no
request can reach the relay with a value it cannot handle (Toxiproxy crashes on some).
Messages of the errors that Toxiproxy clients test for keep Toxiproxy's wording.
"""

from __future__ import annotations

import enum
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from faultlab.proxy.addresses import AddressError, HostPort
from faultlab.proxy.listener import Proxy
from faultlab.proxy.model import ApiError, Stream, ToxicSpec
from faultlab.proxy.toxics import TOXIC_TYPES, Attributes, InvalidAttributes

__all__ = [
    "UNSET",
    "ProxyCreate",
    "ProxyUpdate",
    "ToxicCreate",
    "ToxicUpdate",
    "apply_toxic_update",
    "parse_config",
    "parse_json",
    "parse_observations_query",
    "parse_proxy_create",
    "parse_proxy_entry",
    "parse_proxy_update",
    "parse_toxic_create",
    "parse_toxic_update",
    "proxy_json",
    "toxic_json",
]

DEFAULT_LISTEN = "127.0.0.1:0"  # Toxiproxy binds every interface; loopback is the safe default
MAX_TTL = 30 * 86_400.0  # seconds; a lease of more than a month is a mistake
MAX_NAME = 200


class Unset(enum.Enum):
    """A field absent from the body, as opposed to an explicit ``null``."""

    UNSET = "unset"


UNSET = Unset.UNSET


@dataclass(frozen=True, slots=True)
class ProxyCreate:
    name: str
    listen: str
    upstream: str
    enabled: bool
    ttl: float | None  # with enabled false: re-enable after this many seconds
    # faultlab: record what reaches the upstream (None: not given, so off for a new proxy
    # and unchanged for one that /populate keeps).
    observe: bool | None = None


@dataclass(frozen=True, slots=True)
class ProxyUpdate:
    listen: str | None
    upstream: str | None
    enabled: bool | None
    ttl: float | None
    observe: bool | None = None  # faultlab; None: unchanged


@dataclass(frozen=True, slots=True)
class ToxicCreate:
    spec: ToxicSpec
    ttl: float | None


@dataclass(frozen=True, slots=True)
class ToxicUpdate:
    attributes: object  # raw JSON, merged over the current attributes; None: unchanged
    toxicity: float | None
    ttl: float | Unset | None  # null removes the lease


def _reject_constant(name: str) -> object:
    raise ValueError(f"{name} is not valid JSON")


def parse_json(body: bytes) -> object:
    """Decode a request body; NaN and Infinity are refused, as in standard JSON."""
    try:
        return json.loads(body.decode("utf-8"), parse_constant=_reject_constant)
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise ApiError(400, f"bad request body: {exc}") from None


def _object(body: object) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise ApiError(400, "bad request body: expected a JSON object")
    return body


def _bad(message: str) -> ApiError:
    return ApiError(400, f"bad request body: {message}")


def _name(value: object, field: str, *, required: bool) -> str | None:
    if value is None or value == "":
        if required:
            raise ApiError(400, f"missing required field: {field}")
        return None
    if not isinstance(value, str):
        raise _bad(f"{field} must be a string")
    if "/" in value or len(value) > MAX_NAME or value in (".", ".."):
        # "." and ".." cannot be addressed in a URL path (clients remove dot segments).
        raise _bad(f"{field} must be at most {MAX_NAME} characters, contain no '/' and "
                   "not be '.' or '..'")
    return value


def _address(value: object, field: str, *, upstream: bool) -> str | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise _bad(f"{field} must be a 'host:port' string")
    try:
        address = HostPort.parse(value)
    except AddressError as exc:
        raise _bad(f"{field}: {exc}") from None
    if upstream and (address.port == 0 or not address.host):
        raise _bad(f"{field}: {value} needs a host and a port from 1 to 65535")
    return value


def _bool(value: object, field: str) -> bool | None:
    if value is None or isinstance(value, bool):
        return value
    raise _bad(f"{field} must be true or false")


def _number(value: object, field: str, low: float, high: float, *, low_open: bool) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _bad(f"{field} must be a number, got {value!r:.40}")
    try:
        number = float(value)
    except OverflowError:  # an integer beyond any float: out of range, not a server error
        number = math.inf
    if math.isnan(number) or number > high or number < low or (low_open and number == low):
        bound = f"above {low:g}" if low_open else f"at least {low:g}"
        raise _bad(f"{field} must be {bound} and at most {high:g}, got {value!r:.40}")
    return number


def _ttl(value: object) -> float | None:
    return None if value is None else _number(value, "ttl", 0.0, MAX_TTL, low_open=True)


def parse_proxy_create(raw: object) -> ProxyCreate:
    body = _object(raw)
    name = _name(body.get("name"), "name", required=True)
    upstream = _address(body.get("upstream"), "upstream", upstream=True)
    if upstream is None:
        raise ApiError(400, "missing required field: upstream")
    listen = _address(body.get("listen"), "listen", upstream=False) or DEFAULT_LISTEN
    enabled = _bool(body.get("enabled"), "enabled")
    ttl = _ttl(body.get("ttl"))
    if ttl is not None and enabled is not False:
        raise _bad("ttl is how long the proxy stays disabled; give it with enabled: false")
    assert name is not None
    return ProxyCreate(name, listen, upstream, enabled is not False, ttl,
                       _bool(body.get("observe"), "observe"))


def parse_proxy_update(raw: object) -> ProxyUpdate:
    body = _object(raw)
    enabled = _bool(body.get("enabled"), "enabled")
    ttl = _ttl(body.get("ttl"))
    if ttl is not None and enabled is not False:
        raise _bad("ttl is how long the proxy stays disabled; give it with enabled: false")
    return ProxyUpdate(_address(body.get("listen"), "listen", upstream=False),
                       _address(body.get("upstream"), "upstream", upstream=True), enabled, ttl,
                       _bool(body.get("observe"), "observe"))


def _toxicity(value: object) -> float:
    return _number(value, "toxicity", 0.0, 1.0, low_open=False)


def _attributes(toxic_type: str, raw: object, base: Attributes | None) -> Attributes:
    try:
        attributes: Attributes = TOXIC_TYPES[toxic_type].parse(raw, base)
    except InvalidAttributes as exc:
        raise _bad(str(exc)) from None
    return attributes


def parse_toxic_create(raw: object) -> ToxicCreate:
    body = _object(raw)
    toxic_type = body.get("type")
    if not isinstance(toxic_type, str) or toxic_type not in TOXIC_TYPES:
        # Toxiproxy's message first (clients test for it), then what would have worked.
        raise ApiError(400, f"invalid toxic type: {toxic_type!r:.60}; valid types: "
                            f"{', '.join(sorted(TOXIC_TYPES))}")
    kind = TOXIC_TYPES[toxic_type]
    # An absent or null stream is the default; "" is invalid, as in Toxiproxy.
    raw_stream = body.get("stream")
    stream = Stream.parse(kind.default_stream if raw_stream is None else raw_stream)
    if stream.value not in kind.streams:
        raise _bad(f"a {toxic_type} toxic works on the {' or '.join(sorted(kind.streams))} "
                   f"stream, not {stream.value}")
    name = _name(body.get("name"), "name", required=False) or f"{toxic_type}_{stream.value}"
    toxicity = 1.0 if body.get("toxicity") is None else _toxicity(body["toxicity"])
    attributes = _attributes(toxic_type, body.get("attributes"), None)
    spec = ToxicSpec(name, toxic_type, stream, toxicity, attributes)
    return ToxicCreate(spec, _ttl(body.get("ttl")))


def parse_toxic_update(raw: object) -> ToxicUpdate:
    """Only attributes, toxicity and ttl can change; name, type and stream are ignored."""
    body = _object(raw)
    toxicity = None if body.get("toxicity") is None else _toxicity(body["toxicity"])
    return ToxicUpdate(body.get("attributes"), toxicity,
                       _ttl(body["ttl"]) if "ttl" in body else UNSET)


def apply_toxic_update(spec: ToxicSpec, update: ToxicUpdate) -> ToxicSpec:
    """The spec after a partial merge of ``update`` (attributes are merged key by key)."""
    attributes = spec.attributes
    if update.attributes is not None:
        attributes = _attributes(spec.type, update.attributes, spec.attributes)
    toxicity = spec.toxicity if update.toxicity is None else update.toxicity
    return ToxicSpec(spec.name, spec.type, spec.stream, toxicity, attributes)


def _remaining(deadline: float | None, now: float) -> float | None:
    return None if deadline is None else round(max(deadline - now, 0.0), 3)


def toxic_json(spec: ToxicSpec, expires_at: float | None, now: float) -> dict[str, Any]:
    return {"attributes": spec.attributes.to_json(), "name": spec.name, "type": spec.type,
            "stream": spec.stream.value, "toxicity": spec.toxicity,
            "ttl_remaining": _remaining(expires_at, now)}


def proxy_json(proxy: Proxy, now: float) -> dict[str, Any]:
    """Toxiproxy's shape, plus ``ttl_remaining``, and ``observe`` only when it is on (so a
    proxy made by a Toxiproxy client looks exactly as Toxiproxy would show it)."""
    body: dict[str, Any] = {"name": proxy.name, "listen": proxy.listen, "upstream": proxy.upstream,
                            "enabled": proxy.enabled,
                            "toxics": [toxic_json(spec, proxy.toxic_expiry.get(spec.name), now)
                                       for spec in proxy.ordered_toxics()],
                            "ttl_remaining": _remaining(proxy.reenable_at, now)}
    if proxy.observe:
        body["observe"] = True
    return body


MAX_OBSERVATIONS = 100_000  # records per page


def _query_int(query: Mapping[str, str], field: str, default: int, low: int,
               high: int | None) -> int:
    text = query.get(field)
    if text is None:
        return default
    if not (text.isascii() and text.isdigit()) or len(text) > 20:
        raise ApiError(400, f"bad query: {field} must be a whole number, got {text[:40]!r}")
    value = int(text)
    if value < low or (high is not None and value > high):
        bound = f"from {low} to {high}" if high is not None else f"at least {low}"
        raise ApiError(400, f"bad query: {field} must be {bound}, got {value}")
    return value


def parse_observations_query(query: Mapping[str, str]) -> tuple[int, int]:
    """``since`` (default 0) and ``limit`` (default 10000, 1 to 100000) of
    ``GET /proxies/{name}/observations``."""
    return (_query_int(query, "since", 0, 0, None),
            _query_int(query, "limit", 10_000, 1, MAX_OBSERVATIONS))


def parse_proxy_entry(raw: object) -> tuple[ProxyCreate, list[ToxicCreate]]:
    """A proxy with its ``toxics`` (bodies as for ``POST /proxies/{name}/toxics``), as
    ``POST /proxies``, ``/populate`` and ``--config`` take it. Toxiproxy ignores the
    toxics; here they are applied, so none is dropped silently. A toxic name given again
    in the list replaces the earlier toxic (names are unique across both streams)."""
    proxy = parse_proxy_create(raw)
    assert isinstance(raw, dict)
    toxics = raw.get("toxics")
    if toxics is None:
        toxics = []
    elif not isinstance(toxics, list):  # {} or "" is a wrong type, not an empty list
        raise _bad("toxics must be a JSON array")
    by_name: dict[str, ToxicCreate] = {}
    for toxic in toxics:
        parsed = parse_toxic_create(toxic)
        by_name.pop(parsed.spec.name, None)
        by_name[parsed.spec.name] = parsed
    return proxy, list(by_name.values())


def parse_config(raw: object) -> list[tuple[ProxyCreate, list[ToxicCreate]]]:
    """A ``--config`` file or ``/populate`` body: a JSON array of proxies as for
    ``POST /proxies``. Every entry is validated before anything is created."""
    if not isinstance(raw, list):
        raise _bad("the configuration must be a JSON array of proxies")
    entries: list[tuple[ProxyCreate, list[ToxicCreate]]] = []
    for number, item in enumerate(raw, start=1):
        try:
            entries.append(parse_proxy_entry(item))
        except ApiError as exc:
            raise ApiError(exc.status, f"{exc.message} at proxy {number}") from None
    return entries
