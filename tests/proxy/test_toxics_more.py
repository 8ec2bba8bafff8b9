"""Transcripts and properties of slow_close, timeout, slicer, limit_data and the HTTP and
connect-time toxics (sans-IO: explicit times, no sockets)."""

from __future__ import annotations

import itertools
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from faultlab.proxy.toxics import (
    TOXIC_TYPES,
    Close,
    Command,
    ConnectDelayAttributes,
    ConnectDelayToxic,
    Deliver,
    Drop,
    Hangup,
    HttpAbortAttributes,
    HttpAbortToxic,
    HttpDelayAttributes,
    HttpDelayToxic,
    InvalidAttributes,
    LimitDataAttributes,
    LimitDataToxic,
    Reply,
    SlicerAttributes,
    SlicerToxic,
    SlowCloseAttributes,
    SlowCloseToxic,
    TimeoutAttributes,
    TimeoutToxic,
)
from faultlab.proxy.toxics.http_parser import RequestFramer, RequestHead

from .helpers import r

RNG = random.Random(0)


def delivered(commands: list[Command]) -> bytes:
    return b"".join(c.data for c in commands if isinstance(c, Deliver))


def test_slow_close_passes_data_and_holds_the_eof() -> None:
    toxic = SlowCloseToxic(SlowCloseAttributes(200), 0.0, RNG)
    assert r(toxic.on_chunk(b"a", 1.0)) == [Deliver(b"a", 1.0)]
    assert toxic.on_eof(1.5) == []
    assert toxic.deadline() == pytest.approx(1.7)
    assert toxic.on_tick(1.6) == []
    assert r(toxic.on_tick(1.7)) == [Close(1.7)]
    assert toxic.deadline() is None


def test_slow_close_update_and_removal_release_the_eof() -> None:
    toxic = SlowCloseToxic(SlowCloseAttributes(10_000), 0.0, RNG)
    toxic.on_eof(1.0)
    assert r(toxic.update(SlowCloseAttributes(100), 2.0)) == [Close(2.0)]
    toxic = SlowCloseToxic(SlowCloseAttributes(10_000), 0.0, RNG)
    toxic.on_eof(1.0)
    assert r(toxic.on_remove(3.0)) == [Close(3.0)]


def test_timeout_is_a_deadline_that_traffic_cannot_postpone() -> None:
    """Toxiproxy re-arms its timer on every chunk; here chunks every 0.2 s do not help."""
    toxic = TimeoutToxic(TimeoutAttributes(500), 10.0, RNG)
    for i in range(2):
        at = 10.0 + 0.2 * i
        assert toxic.on_chunk(b"xy", at) == [Drop(2, at)]
    assert toxic.deadline() == pytest.approx(10.5)
    assert r(toxic.on_tick(10.5)) == [Hangup(10.5)]
    assert toxic.deadline() is None
    assert toxic.on_tick(11.0) == []  # once


def test_timeout_counts_from_when_the_toxic_applied_and_zero_never_closes() -> None:
    late = TimeoutToxic(TimeoutAttributes(100), 50.0, RNG)  # added to an old connection
    assert late.deadline() == pytest.approx(50.1)
    forever = TimeoutToxic(TimeoutAttributes(0), 0.0, RNG)
    assert forever.deadline() is None
    assert forever.on_chunk(b"abc", 1e6) == [Drop(3, 1e6)]
    assert r(forever.update(TimeoutAttributes(100), 5.0)) == [Hangup(5.0)]


def test_timeout_removal_hangs_up_only_a_connection_that_lost_bytes() -> None:
    clean = TimeoutToxic(TimeoutAttributes(0), 0.0, RNG)
    assert clean.on_remove(1.0) == []
    holed = TimeoutToxic(TimeoutAttributes(0), 0.0, RNG)
    holed.on_chunk(b"a", 0.5)
    assert r(holed.on_remove(1.0)) == [Hangup(1.0)]


def test_limit_data_truncates_then_hangs_up() -> None:
    toxic = LimitDataToxic(LimitDataAttributes(5), 0.0, RNG)
    assert toxic.on_chunk(b"abc", 1.0) == [Deliver(b"abc", 1.0)]
    assert toxic.on_chunk(b"defg", 2.0) == [Deliver(b"de", 2.0), Drop(2, 2.0), Hangup(2.0)]
    assert toxic.on_chunk(b"h", 3.0) == [Drop(1, 3.0)]
    exact = LimitDataToxic(LimitDataAttributes(3), 0.0, RNG)
    assert exact.on_chunk(b"abc", 1.0) == [Deliver(b"abc", 1.0), Hangup(1.0)]
    zero = LimitDataToxic(LimitDataAttributes(0), 0.0, RNG)
    assert zero.on_chunk(b"abc", 1.0) == [Drop(3, 1.0), Hangup(1.0)]


@settings(max_examples=200, deadline=None)
@given(st.integers(1, 50).flatmap(lambda a: st.tuples(st.just(a), st.integers(0, a - 1))),
       st.integers(0, 3), st.lists(st.binary(min_size=1, max_size=300), max_size=6),
       st.integers(0, 2**32))
def test_slicer_pieces_are_bounded_ordered_and_complete(
        sizes: tuple[int, int], delay_ms: int, chunks: list[bytes], seed: int) -> None:
    average, variation = sizes
    toxic = SlicerToxic(SlicerAttributes(average, variation, delay_ms * 1000), 0.0,
                        random.Random(seed))
    out: list[Command] = []
    for i, chunk in enumerate(chunks):
        out += toxic.on_chunk(chunk, i * 0.001)
    out += toxic.on_eof(1.0)
    out += toxic.on_tick(1e9)
    pieces = [c for c in out if isinstance(c, Deliver)]
    assert b"".join(p.data for p in pieces) == b"".join(chunks)
    assert all(1 <= len(p.data) <= average + variation for p in pieces)
    times = [c.at for c in out]
    assert times == sorted(times)
    gaps = [b.at - a.at for a, b in itertools.pairwise(pieces)]
    assert all(g >= delay_ms / 1000 - 1e-9 for g in gaps)
    assert isinstance(out[-1], Close)
    assert toxic.held_bytes() == 0


@pytest.mark.parametrize(("attributes", "message"), [
    ({}, "average_size of slicer must be from 1 to"),  # Toxiproxy: stack overflow
    ({"average_size": 0, "size_variation": 0}, "from 1 to"),
])
def test_slicer_refuses_nonsense(attributes: dict[str, int], message: str) -> None:
    with pytest.raises(InvalidAttributes, match=message):
        TOXIC_TYPES["slicer"].parse(attributes)


@settings(max_examples=100, deadline=None)
@given(st.integers(1, 20), st.integers(0, 200), st.binary(min_size=1, max_size=500),
       st.integers(0, 2**32))
def test_slicer_variation_at_or_above_the_average_still_slices(
        average: int, variation: int, chunk: bytes, seed: int) -> None:
    """Toxiproxy panics there (#541); schema-valid, so accepted: pieces of at least 1 byte."""
    attributes = TOXIC_TYPES["slicer"].parse({"average_size": average,
                                              "size_variation": variation})
    toxic = SlicerToxic(attributes, 0.0, random.Random(seed))
    out = toxic.on_chunk(chunk, 0.0) + toxic.on_tick(1.0)
    pieces = [c.data for c in out if isinstance(c, Deliver)]
    assert b"".join(pieces) == chunk
    assert all(1 <= len(piece) <= average + variation for piece in pieces)


@pytest.mark.parametrize(("kind", "attributes", "message"), [
    ("http_abort", {"status": 99}, "from 100 to 599"),
    ("http_abort", {"status": 600}, "from 100 to 599"),
    ("http_abort", {"method": "GE T"}, "printable ASCII"),
    ("http_abort", {"path_prefix": 5}, "must be a string"),
    ("http_delay", {"delay": -1}, "not be negative"),
    ("limit_data", {"bytes": 10**16}, "at most"),
    ("timeout", {"timeout": 1.5}, "whole number"),
    ("connect_delay", {"delay": "soon"}, "must be an integer"),
])
def test_new_toxics_refuse_nonsense(kind: str, attributes: dict[str, object],
                                    message: str) -> None:
    with pytest.raises(InvalidAttributes, match=message):
        TOXIC_TYPES[kind].parse(attributes)


REQUESTS = [
    b"GET /a HTTP/1.1\r\nHost: x\r\n\r\n",
    b"POST /api/items HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello",
    b"PUT /api/x HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3;ext=1\r\nabc\r\n0\r\nT: 1\r\n\r\n",
    b"GET http://h/api/abs?q=1 HTTP/1.1\r\n\r\n",
]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(REQUESTS), min_size=1, max_size=5), st.data())
def test_framer_cuts_requests_exactly_however_the_bytes_arrive(
        requests: list[bytes], data: st.DataObject) -> None:
    stream = b"".join(requests)
    cuts = sorted(data.draw(st.sets(st.integers(1, len(stream) - 1), max_size=8)))
    framer = RequestFramer()
    segments: list[tuple[RequestHead | None, bytes]] = []
    for a, b in zip([0, *cuts], [*cuts, len(stream)], strict=True):
        segments += framer.feed(stream[a:b])
    assert b"".join(s for _, s in segments) == stream
    heads = [h for h, _ in segments if h is not None]
    assert len(heads) == len(requests)
    expected = {REQUESTS[0]: "/a", REQUESTS[1]: "/api/items", REQUESTS[2]: "/api/x",
                REQUESTS[3]: "/api/abs?q=1"}
    assert [h.path for h in heads] == [expected[q] for q in requests]


def test_framer_gives_up_on_what_it_does_not_understand() -> None:
    framer = RequestFramer()
    assert framer.feed(b"\x16\x03\x01 not http\r\n\r\nGET / HTTP/1.1\r\n\r\n") == [
        (None, b"\x16\x03\x01 not http\r\n\r\n"), (None, b"GET / HTTP/1.1\r\n\r\n")]


def test_http_abort_answers_the_matching_request_and_drops_the_rest() -> None:
    toxic = HttpAbortToxic(HttpAbortAttributes(503, "POST", "/api"), 0.0, RNG)
    first = toxic.on_chunk(REQUESTS[0], 1.0)  # GET: passes
    assert delivered(first) == REQUESTS[0]
    out = toxic.on_chunk(REQUESTS[1] + REQUESTS[0], 2.0)
    assert [type(c) for c in out] == [Drop, Reply, Close]
    assert out[0] == Drop(len(REQUESTS[1] + REQUESTS[0]), 2.0)
    reply = out[1]
    assert isinstance(reply, Reply)
    assert reply.data.startswith(b"HTTP/1.1 503 Service Unavailable\r\n")
    assert b"Connection: close" in reply.data
    assert toxic.on_chunk(b"more", 3.0) == [Drop(4, 3.0)]
    assert toxic.on_eof(4.0) == []


def test_http_delay_holds_only_matching_requests_and_keeps_order() -> None:
    toxic = HttpDelayToxic(HttpDelayAttributes(100, "", "/api"), 0.0, RNG)
    assert delivered(toxic.on_chunk(REQUESTS[0], 1.0)) == REQUESTS[0]  # /a: not delayed
    assert toxic.on_chunk(REQUESTS[1], 2.0) == []
    assert toxic.on_chunk(REQUESTS[0], 2.01) == []  # waits behind the delayed one
    assert toxic.deadline() == pytest.approx(2.1)
    assert delivered(toxic.on_tick(2.1)) == REQUESTS[1] + REQUESTS[0]
    assert toxic.held_bytes() == 0


def test_connect_delay_is_not_a_data_toxic() -> None:
    toxic = ConnectDelayToxic(ConnectDelayAttributes(250), 0.0, RNG)
    assert toxic.connect_delay() == 0.25
    assert not toxic.touches_data
    assert toxic.on_chunk(b"x", 1.0) == [Deliver(b"x", 1.0)]
