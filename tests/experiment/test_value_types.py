"""The value types that make "valid" mean "will run as written" (experiment/types.py).

Each type is tested on the inputs that once passed validation and then failed the run (or
ran with a changed value), and fuzzed against the code that uses its values: an address
the type accepts is one the proxy and the history clients parse, a URL it accepts is one
urllib, yarl and the HTTP load take without an error.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from pydantic import TypeAdapter, ValidationError
from yarl import URL

from faultlab.experiment.types import (
    MAX_DURATION,
    ApiToken,
    Command,
    Duration,
    EnvKey,
    EnvValue,
    FilePath,
    HeaderName,
    HeaderValue,
    HostPort,
    HttpUrl,
    ProcessName,
    Ratio,
    host_port_identity,
    url_identity,
)

FUZZ = settings(max_examples=400, deadline=None)


def accepts(tp: Any, value: object) -> bool:
    try:
        TypeAdapter(tp).validate_python(value)
    except ValidationError:
        return False
    return True


def refusal(tp: Any, value: object) -> str:
    with pytest.raises(ValidationError) as info:
        TypeAdapter(tp).validate_python(value)
    return str(info.value.errors()[0]["msg"])


# --- HostPort: IP literals or plausible names, never resolved --------------------------------

@pytest.mark.parametrize("value", [
    "127.0.0.1:8080", "localhost:1", "db:65535", "my_service.local:5432", "[::1]:80",
    "[fe80::1%eth0]:80", "a-b.example.com.:443", "0.0.0.0:9"])
def test_host_port_accepts(value: str) -> None:
    assert TypeAdapter(HostPort).validate_python(value) == value


@pytest.mark.parametrize(("value", "says"), [
    ("999.999.999.999:80", "not an IPv4 address"),  # was handed to DNS
    ("127.1:80", "not an IPv4 address"),
    ("127.000.0.1:80", "not an IPv4 address"),
    ("1.2.3:80", "not an IPv4 address"),
    ("127.0.0.1:٨٠", "not a port number"),  # Arabic-Indic digits pass str.isdigit()
    ("127.0.0.1:99999", "outside 1..65535"),
    ("127.0.0.1:0", "outside 1..65535"),
    ("127.0.0.1:", "not a port number"),
    ("127.0.0.1", "the port is missing"),
    ("::1:80", "needs brackets"),
    ("[::1:80", "']' is missing"),
    ("[zz::1]:80", "not an IPv6 address"),
    ("[::1]80", "expected ':port'"),
    ("-db:80", "not an IP address or a host name"),
    ("d b:80", "not an IP address or a host name"),
    ("exämple.com:80", "not an IP address or a host name"),
    (":80", "the host is missing"),
    ("a" * 64 + ":80", "not an IP address or a host name"),
])
def test_host_port_refuses(value: str, says: str) -> None:
    assert says in refusal(HostPort, value)


def test_host_port_refuses_what_is_not_text() -> None:
    assert "expected host:port" in refusal(HostPort, 8080)


def test_host_port_identity_ignores_spelling() -> None:
    assert host_port_identity("LOCALHOST:80") == host_port_identity("localhost.:80")
    assert host_port_identity("[0::1]:80") == host_port_identity("[::1]:80")
    assert host_port_identity("localhost:80") != host_port_identity("127.0.0.1:80")


host_chars = st.sampled_from([*"abz09.-_:[]%", "٨", "é", " ", "1", "2", "5"])
hostish = st.one_of(
    st.lists(host_chars, max_size=20).map("".join),
    st.ip_addresses().map(lambda ip: f"[{ip}]" if ip.version == 6 else str(ip)),
    st.from_regex(r"[a-z][a-z0-9-]{0,10}(\.[a-z]{1,5}){0,3}", fullmatch=True))
ports = st.one_of(st.integers(-1, 70000).map(str), st.sampled_from(["", "٨٠", "08", "+1"]))


@FUZZ
@given(hostish, ports)
@example("999.999.999.999", "80")
@example("[::1]", "80")
def test_an_accepted_address_is_one_the_proxy_and_the_clients_parse(host: str, port: str
                                                                     ) -> None:
    from faultlab.proxy.addresses import HostPort as ProxyAddress
    from faultlab.workload.clients.base import host_port

    value = f"{host}:{port}"
    if not accepts(HostPort, value):
        return
    parsed = ProxyAddress.parse(value)  # raises AddressError (a ValueError) if not
    assert parsed.port == int(port) and 0 < parsed.port < 65536
    client_host, client_port = host_port(value)
    assert client_port == parsed.port and client_host == parsed.host
    host_port_identity(value)


# --- HttpUrl: what an HTTP client sends as written ----------------------------------------

@pytest.mark.parametrize("value", [
    "http://127.0.0.1:8080/health", "https://example.com", "http://[::1]:80/x?a=1&b=%20#f",
    "http://user:pa%40ss@db.local:5984/", "HTTP://Example.com/", "http://a_b/"])
def test_url_accepts(value: str) -> None:
    assert TypeAdapter(HttpUrl).validate_python(value) == value


@pytest.mark.parametrize(("value", "says"), [
    ("http://127.0.0.1:99999/", "outside 1..65535"),  # ran as "internal error ValueError"
    ("http://127.0.0.1:0/", "outside 1..65535"),
    ("http://[::1/", "do not enclose an IPv6 address"),
    ("http://[zz::1]:80/", "do not enclose an IPv6 address"),
    ("http://::1/", "needs brackets"),
    ("http://127.0.0.1:8080/a b", "cannot contain a space"),
    ("http://127.0.0.1:8080/a\x00b", "control character U+0000"),
    ("http://127.0.0.1:8080/a\r\nb", "control character U+000D"),
    ("http://127.0.0.1:8080/é", "percent-encode"),
    ("http://127.0.0.1:8080\\@evil/", "'\\\\'"),
    ("http://h/%zz", "'%' must start an escape"),
    ("http://h/a[1]", "IPv6 host only"),
    ("http://h/a/../b", "'..' path segments"),
    ("http://h:/", "the port after ':' is empty"),
    ("http://:8080/", "the host is missing"),
    ("http://999.1.1.1/", "not an IPv4 address"),
    ("http://a@b@c/", "holds '@'"),
    ("http://[fe80::1%25eth0]/", "zone"),
    ("ftp://h/", "not an http:// or https:// URL"),
    ("http:/h", "not an http:// or https:// URL"),
    ("http://127.0.0.1:٨٠/", "percent-encode"),
])
def test_url_refuses(value: str, says: str) -> None:
    assert says in refusal(HttpUrl, value)


def test_url_identity_ignores_spelling() -> None:
    assert url_identity("HTTP://Example.com:80/") == url_identity("http://example.com")
    assert url_identity("https://h/") == url_identity("https://h:443")
    assert url_identity("http://[0::1]:80/api/") == url_identity("http://[::1]/api")
    assert url_identity("http://h:8474") != url_identity("http://h:8475")


url_chars = st.sampled_from([*"az09:/?#[]@%!$&'()*+,;=.-_~ \\\"<>^`{|}\x00\r\n\t", "é", "٨",
                             "%20", "%zz", "[::1]", ":80", ":99999", "//", "..", "%25"])
urls = st.one_of(
    st.tuples(st.sampled_from(["http://", "https://", "HTTP://", "http:/", "ftp://", ""]),
              st.lists(url_chars, max_size=25).map("".join)).map("".join),
    st.tuples(st.sampled_from(["http://", "https://", "http://u:p@", "http://a@b@"]), hostish,
              st.one_of(st.just(""), ports.map(lambda p: f":{p}")),
              st.lists(url_chars, max_size=12).map(lambda cs: "/" + "".join(cs)),
              ).map("".join))


@FUZZ
@given(urls)
@example("http://[::1]:80/")
@example("http://h:80/%41")
def test_an_accepted_url_is_one_the_http_clients_take(value: str) -> None:
    from faultlab.workload.http import HttpRequestSpec

    if not accepts(HttpUrl, value):
        return
    parts = urlsplit(value)
    assert parts.hostname and parts.port in (None, *range(1, 65536))
    url = URL(value)
    assert url.host and url.port is not None and 0 < url.port < 65536
    HttpRequestSpec(url=value)  # raised ValueError for some URLs that validated
    url_identity(value)
    assert "\\" not in value and " " not in value and value.isascii()


# --- text that reaches the OS or the wire ------------------------------------------------

@pytest.mark.parametrize(("tp", "value", "says"), [
    (FilePath, "/tmp/a\x00b", "cannot contain a NUL character"),
    (FilePath, "", "is empty"),
    (EnvKey, "A=B", "cannot contain '='"),
    (EnvKey, "", "is empty"),
    (EnvKey, "A\x00", "NUL"),
    (EnvValue, "v\x00", "NUL"),
    (ProcessName, "a\x00b", "NUL"),
    (ProcessName, "/usr/bin/x", "'/'"),
    (HeaderName, "X A", "not a header name"),
    (HeaderName, "X-A:", "not a header name"),
    (HeaderName, "Ünï", "not a header name"),
    (HeaderValue, "a\r\nX-Injected: 1", "carriage return (CR)"),
    (HeaderValue, "a\nb", "line feed (LF)"),
    (HeaderValue, "a\x00b", "NUL"),
    (HeaderValue, "a\x7fb", "U+007F"),
    (ApiToken, "a b", "visible ASCII"),
    (ApiToken, "a\r\nb", "visible ASCII"),
])
def test_text_types_refuse(tp: Any, value: str, says: str) -> None:
    assert says in refusal(tp, value)


def test_text_types_accept_what_runs() -> None:
    assert accepts(HeaderValue, "") and accepts(HeaderValue, "a\tb é")
    assert accepts(HeaderName, "X-Request-Id") and accepts(HeaderName, "!#$%&'*+-.^_`|~")
    assert accepts(EnvValue, "") and accepts(EnvKey, "LOG_LEVEL")
    assert accepts(FilePath, "/tmp/x y") and accepts(ProcessName, "postgres")


def test_a_refusal_never_repeats_the_value() -> None:
    """Header values and env entries often come from ${env:...}: a secret."""
    for tp, value in ((HeaderValue, "s3cr3t\r\n"), (EnvValue, "s3cr3t\x00"),
                      (ApiToken, "s3cr3t token")):
        assert "s3cr3t" not in refusal(tp, value)


@FUZZ
@given(st.text(alphabet=st.characters(codec="utf-8"), max_size=20))
def test_an_accepted_header_is_one_aiohttp_sends(value: str) -> None:
    from aiohttp.http_writer import _serialize_headers
    from multidict import CIMultiDict

    if accepts(HeaderName, value):
        _serialize_headers("GET / HTTP/1.1", CIMultiDict({value: "v"}))
    if accepts(HeaderValue, value):
        _serialize_headers("GET / HTTP/1.1", CIMultiDict({"X-A": value}))


@FUZZ
@given(st.text(max_size=12))
def test_an_accepted_env_entry_is_one_the_os_takes(value: str) -> None:
    import os

    if accepts(EnvKey, value) and accepts(EnvValue, value):
        os.fsencode(value)  # what subprocess does with env (a lone surrogate is refused
        assert "=" not in value and "\x00" not in value  # by the loader, not here)


@pytest.mark.parametrize(("value", "says"), [
    (["sh", "-c", "a\x00b"], "NUL"), (["", "x"], "empty string"),
    (["echo", True], "in quotes"), (["sleep", 0.50], "in quotes"), ([], "empty")])
def test_commands_refuse_what_would_not_run_as_written(value: object, says: str) -> None:
    assert says in refusal(Command, value)


def test_commands_keep_whole_numbers() -> None:
    assert TypeAdapter(Command).validate_python(["sleep", 5]) == ("sleep", "5")


def test_durations_are_bounded() -> None:
    assert TypeAdapter(Duration).validate_python("8784h") == MAX_DURATION
    assert "longer than a year" in refusal(Duration, "8785h")


# --- advice -------------------------------------------------------------------------------

@pytest.mark.parametrize(("value", "meant"), [("0.99%", "99%"), ("0.5%", "50%"),
                                             ("0.999%", "99.9%"), ("0.05%", "5%")])
def test_a_ratio_below_one_percent_gets_a_did_you_mean(value: str, meant: str) -> None:
    from faultlab.experiment.loader import _advice_of
    from faultlab.slo.spec import Slo

    check = _advice_of(Slo, "success_ratio")
    assert check is not None
    found = check(value)
    assert found is not None and f"did you mean {meant}?" in found[1]


@pytest.mark.parametrize("value", ["1%", "99%", 0.0099, "100%", "12.5%"])
def test_other_ratios_get_no_advice(value: object) -> None:
    from faultlab.experiment.loader import _find_advice

    check = _find_advice([Ratio])
    assert check is not None and check(value) is None
