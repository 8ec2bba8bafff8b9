"""Request bodies: any JSON either parses or is a 400, never another error (fuzzed)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, TypeVar

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from faultlab.proxy.model import ApiError, Stream
from faultlab.proxy.schema import (
    UNSET,
    apply_toxic_update,
    parse_config,
    parse_json,
    parse_proxy_create,
    parse_proxy_entry,
    parse_proxy_update,
    parse_toxic_create,
    parse_toxic_update,
)
from faultlab.proxy.toxics import TOXIC_TYPES

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda children: st.lists(children, max_size=3)
    | st.dictionaries(st.text(max_size=8), children, max_size=3),
    max_leaves=8)
numbers = (st.integers(-(10**20), 10**20) | st.floats(allow_nan=False)
           | st.sampled_from([10**400, -(10**400)]) | json_values)  # beyond any float
attribute_names = st.sampled_from(["latency", "jitter", "rate", "timeout", "delay", "bytes",
                                   "average_size", "size_variation", "status", "method",
                                   "path_prefix", "x"])
attributes = st.dictionaries(attribute_names, numbers | st.text(max_size=5),
                             max_size=4) | json_values
toxic_bodies = st.fixed_dictionaries({}, optional={
    "type": st.sampled_from([*TOXIC_TYPES, "slowness"]) | json_values,
    "name": st.sampled_from(["t", "", "a/b"]) | json_values,
    "stream": st.sampled_from(["upstream", "DOWNSTREAM", "sideways"]) | json_values,
    "toxicity": st.floats(0, 1) | numbers,
    "attributes": attributes,
    "ttl": numbers,
})
addresses = st.sampled_from(["127.0.0.1:80", "localhost:0", "[::1]:8080", ":9", "x", "1:2:3",
                             "h:99999", "h:-1", ""]) | json_values
proxy_bodies = st.fixed_dictionaries({}, optional={
    "name": st.sampled_from(["db", ""]) | json_values, "listen": addresses,
    "upstream": addresses, "enabled": st.booleans() | json_values, "ttl": numbers,
})


T = TypeVar("T")


def accepts_or_400(parse: Callable[[object], T], body: object) -> T | None:
    """Parse ``body`` as the server receives it (JSON text); None if refused with a 400."""
    result = _outcome(lambda: parse(parse_json(json.dumps(body).encode())))
    if isinstance(result, ApiError):
        assert result.status == 400
        assert result.message
        return None
    return result


def _outcome(call: Callable[[], T]) -> T | ApiError:
    try:
        return call()
    except ApiError as exc:
        return exc


@settings(max_examples=300, deadline=None)
@given(toxic_bodies)
def test_any_toxic_body_is_parsed_or_refused_with_400(body: dict[str, Any]) -> None:
    created = accepts_or_400(parse_toxic_create, body)
    if created is not None:
        spec = created.spec
        assert 0.0 <= spec.toxicity <= 1.0
        assert "/" not in spec.name and spec.name
        assert all((isinstance(v, int) and v >= 0) or (isinstance(v, str) and " " not in v)
                   for v in spec.attributes.to_json().values())


@settings(max_examples=300, deadline=None)
@given(toxic_bodies)
def test_any_toxic_update_is_merged_or_refused_with_400(body: dict[str, Any]) -> None:
    base = parse_toxic_create({"type": "latency", "attributes": {"latency": 5}}).spec
    update = accepts_or_400(parse_toxic_update, body)
    if update is not None:
        merged = _outcome(lambda: apply_toxic_update(base, update))
        if isinstance(merged, ApiError):
            assert merged.status == 400
        else:
            assert (merged.name, merged.type, merged.stream) == (base.name, base.type,
                                                                 base.stream)


@settings(max_examples=300, deadline=None)
@given(proxy_bodies)
def test_any_proxy_body_is_parsed_or_refused_with_400(body: dict[str, Any]) -> None:
    accepts_or_400(parse_proxy_create, body)
    accepts_or_400(parse_proxy_update, body)


def test_defaults() -> None:
    created = parse_toxic_create({"type": "bandwidth", "stream": "UpStream"})
    assert (created.spec.name, created.spec.stream, created.spec.toxicity, created.ttl) == (
        "bandwidth_upstream", Stream.UPSTREAM, 1.0, None)
    proxy = parse_proxy_create({"name": "db", "upstream": "db.internal:5432"})
    assert (proxy.listen, proxy.enabled, proxy.ttl) == ("127.0.0.1:0", True, None)
    assert parse_toxic_update({}).ttl is UNSET
    assert parse_toxic_update({"ttl": None}).ttl is None


def test_config_is_validated_entirely_before_use() -> None:
    good = {"name": "a", "upstream": "127.0.0.1:1", "toxics": [{"type": "latency"}]}
    assert len(parse_config([good])) == 1
    with pytest.raises(ApiError, match="missing required field: upstream at proxy 2"):
        parse_config([good, {"name": "b"}])
    with pytest.raises(ApiError, match=r"invalid toxic type: 'nope'; valid types: bandwidth, "
                       r".*latency.* at proxy 1"):
        parse_config([{**good, "toxics": [{"type": "nope"}]}])
    with pytest.raises(ApiError, match="JSON array"):
        parse_config({"proxies": []})


@pytest.mark.parametrize("toxics", [{}, "", 0, False, {"type": "latency"}])
def test_toxics_of_the_wrong_type_are_refused_not_taken_as_none(toxics: object) -> None:
    with pytest.raises(ApiError, match="toxics must be a JSON array"):
        parse_proxy_entry({"name": "a", "upstream": "127.0.0.1:1", "toxics": toxics})
    assert parse_proxy_entry({"name": "a", "upstream": "127.0.0.1:1", "toxics": None})[1] == []
