"""http_abort's ``percent``: each matching request is answered with that probability, drawn
from the connection's seeded generator, and requests not drawn pass (sans-IO transcripts,
then one keep-alive client through a real proxy)."""

from __future__ import annotations

import asyncio
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from faultlab.proxy.client import ProxyClient
from faultlab.proxy.toxics import (
    TOXIC_TYPES,
    Close,
    Command,
    Deliver,
    Drop,
    HttpAbortAttributes,
    HttpAbortToxic,
    InvalidAttributes,
    Reply,
)

from .helpers import Conn, TcpServer

GET = b"GET /api/items HTTP/1.1\r\nHost: x\r\n\r\n"
POST = b"POST /api/items HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello"
OTHER = b"GET /health HTTP/1.1\r\n\r\n"


def delivered(commands: list[Command]) -> bytes:
    return b"".join(c.data for c in commands if isinstance(c, Deliver))


def answered_at(toxic: HttpAbortToxic, requests: list[bytes]) -> int | None:
    """Feed one request per chunk; the index of the answered one (None: all passed)."""
    for index, request in enumerate(requests):
        out = toxic.on_chunk(request, float(index))
        if any(isinstance(c, Reply) for c in out):
            return index
        assert delivered(out) == request
    return None


def abort(percent: int, seed: int, path_prefix: str = "") -> HttpAbortToxic:
    attributes = HttpAbortAttributes(503, "", path_prefix, percent)
    return HttpAbortToxic(attributes, 0.0, random.Random(seed))


def test_percent_defaults_to_100_and_is_bounded() -> None:
    parse = TOXIC_TYPES["http_abort"].parse
    assert parse({}).percent == 100
    assert parse({"percent": 30}).percent == 30
    assert parse({"percent": 5}, base=parse({"status": 502})) == \
        HttpAbortAttributes(502, "", "", 5)
    for bad in (0, 101, -1):
        with pytest.raises(InvalidAttributes, match="percent of http_abort must be from 1 "
                                                    "to 100 percent"):
            parse({"percent": bad})
    with pytest.raises(InvalidAttributes, match="whole number"):
        parse({"percent": 12.5})


def test_at_100_the_first_matching_request_is_answered_and_nothing_is_drawn() -> None:
    rng = random.Random(3)
    state = rng.getstate()
    toxic = HttpAbortToxic(HttpAbortAttributes(503, "POST", "/api"), 0.0, rng)
    assert delivered(toxic.on_chunk(GET + OTHER, 1.0)) == GET + OTHER
    out = toxic.on_chunk(OTHER + POST + GET, 2.0)
    assert [type(c) for c in out] == [Deliver, Drop, Reply, Close]
    assert out[0] == Deliver(OTHER, 2.0) and out[1] == Drop(len(POST + GET), 2.0)
    assert toxic.on_chunk(GET, 3.0) == [Drop(len(GET), 3.0)]
    assert toxic.on_eof(4.0) == []
    assert rng.getstate() == state  # the same connection as before percent existed


def test_a_seeded_connection_answers_the_same_request_every_time() -> None:
    requests = [GET] * 100
    assert [answered_at(abort(30, seed), requests) for seed in range(6)] == [3, 0, 0, 3, 2, 8]
    assert answered_at(abort(1, seed=7), requests) is None  # 100 requests, none answered
    assert all(answered_at(abort(30, seed), requests) == answered_at(abort(30, seed), requests)
               for seed in range(50))


def test_the_share_of_answered_requests_is_percent_on_keep_alive_connections() -> None:
    """Each connection sends matching requests until one is answered (the client then opens
    another, as a keep-alive client does): 30% of all the requests sent are answered."""
    seen = answered = 0
    for seed in range(2000):
        index = answered_at(abort(30, seed), [GET] * 100)
        assert index is not None
        seen, answered = seen + index + 1, answered + 1
    assert (seen, answered) == (6680, 2000)
    assert 0.29 < answered / seen < 0.31


def test_requests_that_do_not_match_are_not_drawn() -> None:
    """A request outside method or path passes without a draw, so the matching requests'
    fates do not depend on what else shares the connection."""
    alone = answered_at(abort(30, seed=7, path_prefix="/api"), [GET] * 20)
    assert alone is not None
    mixed = [OTHER, GET] * 20
    assert answered_at(abort(30, seed=7, path_prefix="/api"), mixed) == 2 * alone + 1


def test_a_request_not_drawn_passes_whole_and_later_ones_are_still_judged() -> None:
    toxic = abort(50, seed=5)  # seed 5: the first request passes, the second is answered
    assert toxic.on_chunk(POST[:10], 1.0) == []  # the head is held until complete
    assert delivered(toxic.on_chunk(POST[10:-2], 1.1)) == POST[:-2]
    assert toxic.on_chunk(POST[-2:] + POST[:10], 1.2) == [Deliver(POST[-2:], 1.2)]
    out = toxic.on_chunk(POST[10:], 1.3)
    assert [type(c) for c in out] == [Drop, Reply, Close]
    assert out[0] == Drop(len(POST), 1.3)  # the part head held since 1.2 included


def test_a_part_head_held_at_the_end_is_counted_as_dropped() -> None:
    """Conservation: bytes of an unfinished head the framer holds are never lost uncounted,
    whether a request is answered in the same chunk or the client closes."""
    out = abort(100, seed=0).on_chunk(GET + b"GE", 1.0)
    assert out[0] == Drop(len(GET) + 2, 1.0)
    toxic = abort(100, seed=0, path_prefix="/nowhere")
    assert delivered(toxic.on_chunk(GET + b"GE", 1.0)) == GET
    assert toxic.on_eof(2.0) == [Drop(2, 2.0), Close(2.0)]


@settings(max_examples=200, deadline=None)
@given(st.integers(1, 99), st.integers(0, 2**32), st.lists(st.integers(1, 400), max_size=12))
def test_how_the_bytes_arrive_does_not_change_which_request_is_answered(
        percent: int, seed: int, cuts: list[int]) -> None:
    requests = [POST, GET, OTHER, GET, POST] * 4
    expected = answered_at(abort(percent, seed), requests)
    stream = b"".join(requests)
    toxic = abort(percent, seed)
    out: list[Command] = []
    points = sorted({c % len(stream) for c in cuts} - {0})
    for a, b in zip([0, *points], [*points, len(stream)], strict=True):
        out += toxic.on_chunk(stream[a:b], 1.0)
    passed = b"".join(requests[:expected]) if expected is not None else stream
    assert delivered(out) == passed
    assert sum(c.size for c in out if isinstance(c, Drop)) == len(stream) - len(passed)
    assert any(isinstance(c, Reply) for c in out) == (expected is not None)


# ---------------------------------------------------------------- through a real proxy


async def _keep_alive_upstream(reader: asyncio.StreamReader,
                               writer: asyncio.StreamWriter) -> None:
    while True:
        try:
            await reader.readuntil(b"\r\n\r\n")
        except (asyncio.IncompleteReadError, ConnectionError):
            return
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
        await writer.drain()


async def test_a_keep_alive_client_sees_a_share_of_its_requests_answered(
        client: ProxyClient, conns: list[Conn]) -> None:
    """With toxicity, a connection that drew "no" would never see a 503; with percent, a
    connection keeps passing requests until one is drawn, then the client reconnects."""
    upstream = await TcpServer(_keep_alive_upstream).start()
    try:
        listen = (await client.create_proxy("db", "127.0.0.1:0", upstream.address))["listen"]
        await client.add_toxic("db", "http_abort", {"percent": 50}, stream="upstream")
        statuses: list[bytes] = []
        longest = 0
        while len(statuses) < 80:
            conn = await Conn.open(listen)
            conns.append(conn)
            served = 0
            while len(statuses) < 80:
                conn.writer.write(GET)
                head = await asyncio.wait_for(conn.reader.readuntil(b"\r\n\r\n"), 10)
                statuses.append(head[9:12])
                if head[9:12] == b"503":
                    assert await asyncio.wait_for(conn.reader.read(), 10)  # body, then EOF
                    break
                assert await conn.reader.readexactly(2) == b"ok"
                served += 1
            longest = max(longest, served)
        assert {b"200", b"503"} == set(statuses)
        assert longest >= 2  # one connection passed several requests before its 503
    finally:
        await upstream.close()
