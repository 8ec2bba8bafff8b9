"""Address syntax (classes of input, not examples), resolution order and Go's error texts."""

from __future__ import annotations

import ipaddress
import socket
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from faultlab.proxy.addresses import (
    AddressError,
    HostPort,
    ListenError,
    bind_listener,
    resolve_listen,
)

# Every Unicode decimal digit that is not an ASCII one: int() and str.isdigit() take them.
UNICODE_DIGITS = [chr(c) for c in range(0x110000)
                  if chr(c).isdigit() and not chr(c).isascii()]


@settings(max_examples=200, deadline=None)
@given(st.lists(st.sampled_from(UNICODE_DIGITS), min_size=1, max_size=5),
       st.sampled_from(["127.0.0.1", "", "[::1]", "localhost"]))
def test_a_port_is_ascii_digits_only(digits: list[str], host: str) -> None:
    with pytest.raises(AddressError, match="invalid port"):
        HostPort.parse(f"{host}:{''.join(digits)}")


@settings(max_examples=300, deadline=None)
@given(st.integers(0, 65535), st.sampled_from(["127.0.0.1", "", "db", "a-b.example.com",
                                                "my_service", "[::1]", "[fe80::1%eth0]"]))
def test_well_formed_addresses_round_trip(port: int, host: str) -> None:
    text = f"{host}:{port}"
    parsed = HostPort.parse(text)
    assert parsed.port == port
    assert str(parsed) == text


@pytest.mark.parametrize("text", [
    "127.0.0.1:65536", "127.0.0.1:+80", "127.0.0.1: 80", "127.0.0.1:1_0", "127.0.0.1:000080",
    "nohost", "a b:80", "a\x00b:80", "ünicode.example:80", "-lead.example:80", "x" * 300 + ":1",
    "[::1:80", "[nonsense]:80", "[127.0.0.1]:80", "[fe80::1%]:80", "[fe80::1%a b]:80",
    "127.1:80", "256.0.0.1:80", "1.2.3.4.5:80", "::1:80", "a..b:80", f"{'a' * 64}.com:80",
])
def test_malformed_addresses_are_address_errors(text: str) -> None:
    with pytest.raises(AddressError):
        HostPort.parse(text)


async def test_listen_prefers_ipv4_as_go_does(monkeypatch: pytest.MonkeyPatch) -> None:
    """A resolver that lists ::1 first (the usual /etc/hosts) must still give 127.0.0.1."""
    import asyncio

    async def v6_first(self: object, host: str, port: int, **_: object) -> list[object]:
        return [(socket.AF_INET6, socket.SOCK_STREAM, 6, "", ("::1", port, 0, 0)),
                (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("127.0.0.1", port))]

    loop = asyncio.get_running_loop()
    monkeypatch.setattr(type(loop), "getaddrinfo", v6_first)
    assert await resolve_listen(HostPort.parse("localhost:3310")) == HostPort("127.0.0.1",
                                                                                3310)


async def test_bind_conflicts_say_what_go_says() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(ListenError) as caught:
            await bind_listener(HostPort.parse(f"localhost:{port}"))
    assert str(caught.value) == f"listen tcp 127.0.0.1:{port}: bind: address already in use"
    assert not caught.value.client_error


async def test_a_name_that_does_not_resolve_is_the_requests_fault() -> None:
    with pytest.raises(ListenError) as caught:
        await bind_listener(HostPort.parse("no-such-host.invalid:0"))
    assert str(caught.value) == "listen tcp: lookup no-such-host.invalid: no such host"
    assert caught.value.client_error


def _link_local() -> tuple[str, str] | None:
    """(address, interface) of a link-local IPv6 address of this machine, if any."""
    try:
        lines = Path("/proc/net/if_inet6").read_text().splitlines()
    except OSError:
        return None
    for line in lines:
        fields = line.split()
        if fields[0].startswith("fe80"):
            raw = fields[0]
            address = ":".join(raw[i:i + 4] for i in range(0, 32, 4))
            return str(ipaddress.IPv6Address(address)), fields[5]
    return None


async def test_ipv6_zones_bind_and_are_reported_with_their_zone() -> None:
    found = _link_local()
    if found is None:
        pytest.skip("no link-local IPv6 address on this machine")
    address, interface = found
    sock = await bind_listener(HostPort.parse(f"[{address}%{interface}]:0"))
    try:
        bound = HostPort.from_sockname(sock.getsockname())
        assert bound.host == f"{address}%{interface}"
        again = await resolve_listen(bound)  # re-enabling binds the same place
        assert again == bound
    finally:
        sock.close()


async def test_a_zone_that_is_not_this_machines_address_fails_as_go_does() -> None:
    """``[fe80::1%lo]:0`` used to be EINVAL (the zone was lost); now it is Go's answer."""
    with pytest.raises(ListenError) as caught:
        await bind_listener(HostPort.parse("[fe80::1%lo]:0"))
    assert str(caught.value) == "listen tcp [fe80::1%lo]:0: bind: cannot assign requested address"
    for zone in ["nosuchif9", "99999999999", "4294967296", "0"]:
        with pytest.raises(ListenError, match="no network interface") as missing:
            await bind_listener(HostPort.parse(f"[fe80::1%{zone}]:0"))
        assert missing.value.client_error
