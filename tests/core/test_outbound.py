"""The guarded outbound client (core/outbound.py) against real local HTTPS servers: it reaches a
permitted receiver by the address it checked, refuses every address that is not public before
connecting, follows no redirect, and says nothing but "could not deliver" when it fails."""

import ipaddress
import logging
import socket
import ssl
import time

import pytest

from core import outbound
from core.outbound import OutboundError, OutboundRefused, Refusal, address_is_public, outbound_post
from tests.tls import CERTIFIED_IDNA_NAME, CERTIFIED_NAME, RECEIVER_HOST, RecordingServer


def _post(url: str, **kwargs) -> int:
    return outbound_post(
        url=url, body=b'{"test":true}', headers={"Content-Type": "application/json"}, timeout=3, **kwargs
    )


@pytest.fixture
def receiver():
    server = RecordingServer().start()
    yield server
    server.stop()


@pytest.fixture
def connections(monkeypatch):
    """Every TCP connection httpx's transport opens, by address, still made for real."""
    made: list[tuple] = []
    create_connection = socket.create_connection

    def recorded(address, *args, **kwargs):
        made.append(address)
        return create_connection(address, *args, **kwargs)

    monkeypatch.setattr(socket, "create_connection", recorded)
    return made


def test_a_permitted_receiver_gets_the_request_by_the_address_that_was_checked(receiver, connections):
    assert _post(receiver.url()) == 200
    [seen] = receiver.seen
    assert seen.body == b'{"test":true}' and seen.path == "/hook"
    assert seen.headers["Host"] == f"{RECEIVER_HOST}:{receiver.port}"
    assert connections == [(RECEIVER_HOST, receiver.port)]


def _ipv6_available() -> bool:
    try:
        with socket.socket(socket.AF_INET6) as s:
            s.bind(("::1", 0))
    except OSError:
        return False
    return True


@pytest.mark.parametrize(
    ("url_host", "server_host", "network"),
    [
        ("127.0.0.1", "127.0.0.1", "127.0.0.1/32"),
        ("::1", "::1", "::1/128"),
        # Linux takes a connection to 0.0.0.0 to this machine: a way past a check of "127.*".
        ("0.0.0.0", "127.0.0.1", "0.0.0.0/32"),  # noqa: S104 - the address under test
        # An IPv4-mapped address reaches the IPv4 server over a dual-stack socket.
        ("::ffff:127.0.0.1", "127.0.0.1", "127.0.0.1/32"),
    ],
)
def test_a_local_server_is_refused_unless_its_network_is_allowed(settings, url_host, server_host, network):
    if ":" in server_host and not _ipv6_available():
        pytest.skip("no IPv6 loopback on this machine")
    server = RecordingServer(host=server_host).start()
    try:
        with pytest.raises(OutboundRefused) as refused:
            _post(server.url(url_host))
        assert refused.value.refusal == Refusal.NOT_PUBLIC
        assert server.seen == []
        # The control: the same address, allowed, is answered, so the refusal above was the check's.
        settings.OUTBOUND_ALLOWED_NETWORKS = [network]
        assert _post(server.url(url_host)) == 200
        assert len(server.seen) == 1
    finally:
        server.stop()


FORBIDDEN = [
    "169.254.169.254",  # the cloud's metadata service
    "10.0.0.1",
    "10.255.255.254",
    "172.16.0.1",
    "172.31.255.254",
    "192.168.1.1",
    "100.64.0.1",
    "127.0.0.2",  # loopback beyond the receiver's address, once it is not allowed
    "0.0.0.1",
    "224.0.0.1",
    "239.255.255.250",
    "240.0.0.1",
    "255.255.255.255",
    "fc00::1",
    "fd12:3456:789a::1",
    "fe80::1",
    "fec0::1",
    "ff02::1",
    "ff05::2",
    "::",
    "::ffff:10.0.0.1",
    "::ffff:169.254.169.254",
    "::127.0.0.1",  # IPv4-compatible
    "::10.0.0.1",
    "64:ff9b::a00:1",  # NAT64 of 10.0.0.1
    "64:ff9b::a9fe:a9fe",  # NAT64 of 169.254.169.254
    "64:ff9b:1::808:808",  # local-use NAT64
    "2002:a00:1::1",  # 6to4 of 10.0.0.1
    "2001:db8::1",
    "2001::1",  # Teredo
]


@pytest.mark.parametrize("address", FORBIDDEN)
def test_a_forbidden_address_is_refused_before_any_connection(settings, connections, address):
    settings.OUTBOUND_ALLOWED_NETWORKS = []
    host = f"[{address}]" if ":" in address else address
    with pytest.raises(OutboundRefused) as refused:
        _post(f"https://{host}:8443/hook")
    assert refused.value.refusal == Refusal.NOT_PUBLIC
    assert str(refused.value) == "could not deliver"
    assert connections == []
    assert not address_is_public(ipaddress.ip_address(address))


@pytest.mark.parametrize(
    "address", ["151.101.1.69", "2a00:1450:4009:81f::200e", "::ffff:151.101.1.69", "64:ff9b::9765:145"]
)
def test_a_public_address_passes_the_check(settings, address):
    settings.OUTBOUND_ALLOWED_NETWORKS = []
    assert address_is_public(ipaddress.ip_address(address))


def test_the_connection_record_sees_a_connection(connections):
    # The control for the refusals above: a permitted address with nobody listening is
    # connected to (and fails), so an empty record there means no connection was tried.
    with socket.socket() as s:
        s.bind((RECEIVER_HOST, 0))
        port = s.getsockname()[1]
    with pytest.raises(OutboundError):
        _post(f"https://{RECEIVER_HOST}:{port}/hook")
    assert connections == [(RECEIVER_HOST, port)]


def test_a_redirect_is_not_followed_to_a_forbidden_server_or_any_other(settings, receiver):
    forbidden = RecordingServer(host="127.0.0.1").start()
    allowed = RecordingServer().start()
    try:
        for target in (forbidden, allowed):
            receiver.status, receiver.location = 307, target.url()
            with pytest.raises(OutboundError) as failed:
                _post(receiver.url())
            assert failed.value.status == 307
            assert str(failed.value) == "could not deliver (HTTP 307)"
            assert target.seen == []
        assert len(receiver.seen) == 2
    finally:
        forbidden.stop()
        allowed.stop()


def test_localhost_is_refused_by_what_it_resolves_to(settings):
    settings.OUTBOUND_ALLOWED_NETWORKS = []
    with pytest.raises(OutboundRefused) as refused:
        _post("https://localhost:8443/hook")
    assert refused.value.refusal == Refusal.NOT_PUBLIC


@pytest.mark.parametrize(
    "addresses",
    [["10.0.0.7"], ["169.254.169.254"], ["fd00::7"], ["151.101.1.69", "10.0.0.7"], ["::ffff:127.0.0.1"]],
    ids=["private", "metadata", "unique-local", "one-private-among-public", "mapped-loopback"],
)
def test_a_name_resolving_to_a_forbidden_address_is_refused(outbound_names, connections, addresses):
    outbound_names.addresses["cms.example.test"] = addresses
    with pytest.raises(OutboundRefused) as refused:
        _post("https://cms.example.test/hook")
    assert refused.value.refusal == Refusal.NOT_PUBLIC
    assert connections == []


def test_a_name_that_does_not_resolve_is_refused(connections):
    with pytest.raises(OutboundRefused) as refused:
        _post("https://no-such-host.invalid/hook")
    assert refused.value.refusal == Refusal.UNRESOLVED
    assert connections == []


def test_a_name_is_looked_up_once_and_its_certificate_checked_for_the_name(outbound_names, receiver, connections):
    # Only the test's resolver knows this name: had httpx looked it up again, it would have failed.
    outbound_names.addresses[CERTIFIED_NAME] = [RECEIVER_HOST]
    assert _post(f"https://{CERTIFIED_NAME}:{receiver.port}/hook") == 200
    assert outbound_names.lookups == [CERTIFIED_NAME]
    assert connections == [(RECEIVER_HOST, receiver.port)]
    [seen] = receiver.seen
    assert seen.headers["Host"] == f"{CERTIFIED_NAME}:{receiver.port}"
    assert seen.server_name == CERTIFIED_NAME

    # The same address under a name its certificate does not carry: refused by TLS, nothing sent.
    outbound_names.addresses["uncertified.test"] = [RECEIVER_HOST]
    with pytest.raises(OutboundError) as failed:
        _post(f"https://uncertified.test:{receiver.port}/hook")
    assert str(failed.value) == "could not deliver"
    assert len(receiver.seen) == 1


def test_an_international_name_is_resolved_and_sent_to_tls_as_one_spelling(outbound_names, receiver):
    # Resolved, sent as the Host and in the handshake, and checked in the certificate all as
    # IDNA 2008 spells it: a second spelling (Python's IDNA 2003 gives "fass.test") would
    # name another host.
    outbound_names.addresses[CERTIFIED_IDNA_NAME] = [RECEIVER_HOST]
    assert _post(f"https://faß.test:{receiver.port}/hook") == 200
    assert outbound_names.lookups == [CERTIFIED_IDNA_NAME]
    [seen] = receiver.seen
    assert seen.server_name == CERTIFIED_IDNA_NAME
    assert seen.headers["Host"] == f"{CERTIFIED_IDNA_NAME}:{receiver.port}"


def test_plain_http_is_refused_even_to_an_allowed_address(connections):
    with pytest.raises(OutboundRefused) as refused:
        _post(f"http://{RECEIVER_HOST}:8080/hook")
    assert refused.value.refusal == Refusal.NOT_HTTPS
    assert connections == []


def test_a_failure_says_could_not_deliver_and_nothing_of_why(receiver, caplog):
    with socket.socket() as s:
        s.bind((RECEIVER_HOST, 0))
        closed = s.getsockname()[1]
    failures = []
    with caplog.at_level(logging.WARNING, logger="core.outbound"):
        for url, kwargs in [
            (f"https://{RECEIVER_HOST}:{closed}/hook", {}),  # connection refused
            (receiver.url(), {"verify": ssl.create_default_context()}),  # certificate not trusted
        ]:
            with pytest.raises(OutboundError) as failed:
                _post(url, **kwargs)
            failures.append(failed.value)
    assert [str(f) for f in failures] == ["could not deliver", "could not deliver"]
    assert all(f.status is None and f.__cause__ is None for f in failures)
    logged = " ".join(r.getMessage() for r in caplog.records)
    assert "ConnectError" in logged
    assert "refused" not in logged.lower() and "certificate" not in logged.lower()

    receiver.status = 503
    with pytest.raises(OutboundError) as failed:
        _post(receiver.url())
    assert (str(failed.value), failed.value.status) == ("could not deliver (HTTP 503)", 503)


def test_a_slow_server_is_given_up_on_after_the_timeout(receiver):
    receiver.delay = 10
    began = time.monotonic()
    with pytest.raises(OutboundError) as failed:
        outbound_post(url=receiver.url(), body=b"{}", headers={}, timeout=0.5)
    # Generous for a loaded machine, and far below the server's 10 s.
    assert time.monotonic() - began < 5
    assert str(failed.value) == "could not deliver"


def test_a_slow_name_lookup_is_given_up_on_after_the_connect_timeout(settings, monkeypatch):
    settings.OUTBOUND_CONNECT_TIMEOUT = 0.3

    def slow(host, port):
        time.sleep(10)
        return [ipaddress.ip_address(RECEIVER_HOST)]

    monkeypatch.setattr(outbound, "host_addresses", slow)
    began = time.monotonic()
    with pytest.raises(OutboundRefused) as refused:
        _post("https://slow.example.test/hook")
    assert refused.value.refusal == Refusal.UNRESOLVED
    assert time.monotonic() - began < 5


@pytest.mark.parametrize(
    "url",
    [
        "",
        "https://",
        "https:///hook",
        "not a url",
        "https://a..b/",
        f"https://{'a' * 70}.test/",
        "https://[::1/",
        "ftp://x/",
    ],
)
def test_a_malformed_address_is_refused_not_raised(connections, url):
    with pytest.raises(OutboundRefused):
        _post(url)
    assert connections == []
