"""The one way to send a request to an address someone typed (an LA's webhook now; MESH and
others later): https only, to public addresses only, checked before connecting.

Without it, a web address an LA admin saves makes this service reach inside its own network
for them (a database port, Redis, the cloud's metadata service), and the error it reports tells
open ports from closed ones (docs/adr/ADR-011-guarded-outbound-requests.md). So:

1. the scheme must be https;
2. the host name is resolved once, within the connect timeout, and every address it resolves
   to must be public: one private answer among public ones refuses the lot, so a name cannot
   alternate between an outside address and an inside one;
3. the connection goes to an address that was checked, never to a second lookup of the name;
4. no redirect is followed (a 3xx is an answer like any other non-2xx);
5. timeouts are short, and a failure says only "could not deliver" and the HTTP status, if
   there was one: never why a connection failed.

`OUTBOUND_ALLOWED_NETWORKS` lets addresses in the networks it lists through although they are
not public: for tests and closed networks only, set by whoever runs the service, never by an
admin of an organisation.
"""

import contextlib
import ipaddress
import logging
import socket
import ssl
import threading
from dataclasses import dataclass
from enum import StrEnum
from functools import lru_cache

import httpx
from django.conf import settings

logger = logging.getLogger(__name__)

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

# Listed rather than left to `ipaddress`'s properties alone, whose answers have changed between
# Python releases: what we refuse is written here, and the properties are checked as well.
_FORBIDDEN_NETWORKS: tuple[IPNetwork, ...] = tuple(
    ipaddress.ip_network(network)
    for network in (
        "0.0.0.0/8",  # "this network", 0.0.0.0 (reaches this machine on Linux)
        "10.0.0.0/8",
        "100.64.0.0/10",  # carrier-grade NAT
        "127.0.0.0/8",
        "169.254.0.0/16",  # link-local, the cloud's metadata service
        "172.16.0.0/12",
        "192.0.0.0/24",
        "192.0.2.0/24",
        "192.88.99.0/24",
        "192.168.0.0/16",
        "198.18.0.0/15",
        "198.51.100.0/24",
        "203.0.113.0/24",
        "224.0.0.0/4",  # multicast
        "240.0.0.0/4",  # reserved, and the broadcast address
        "::/128",
        "::1/128",
        "::/96",  # IPv4-compatible (deprecated): nothing public is reached that way
        "64:ff9b:1::/48",  # NAT64 for local use
        "100::/64",  # discard
        "2001::/23",  # protocol assignments, Teredo among them
        "2001:db8::/32",
        "fc00::/7",  # unique-local
        "fe80::/10",  # link-local
        "fec0::/10",  # site-local (deprecated)
        "ff00::/8",  # multicast
    )
)
_NAT64 = ipaddress.ip_network("64:ff9b::/96")

# A name's next address is tried only when one refuses the connection (nothing was sent), and
# only the first two (typically one IPv6, one IPv4): a long list must not hold the worker.
_MAX_ADDRESSES_TRIED = 2


class Refusal(StrEnum):
    NOT_HTTPS = "not_https"
    UNRESOLVED = "unresolved"
    NOT_PUBLIC = "not_public"


@dataclass(eq=False)  # compared and hashed by identity, as exceptions are
class OutboundError(Exception):
    """A request that was not answered with a 2xx. Its text is all anyone is told: a port
    scanner learns nothing from "could not deliver"."""

    status: int | None = None  # the HTTP status, if the other end answered

    def __str__(self) -> str:
        return f"could not deliver (HTTP {self.status})" if self.status else "could not deliver"


@dataclass(eq=False)
class OutboundRefused(OutboundError):
    """Refused before connecting; `refusal` is for a form's message, never sent anywhere."""

    refusal: Refusal = Refusal.NOT_PUBLIC


@dataclass(frozen=True)
class OutboundTarget:
    url: httpx.URL
    host: str  # as the resolver and the certificate know it: IDNA ("xn--..."), or an address
    addresses: tuple[IPAddress, ...]


def host_addresses(host: str, port: int) -> list[IPAddress]:
    """Every address `host` resolves to (tests replace this to give names of their own)."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [ipaddress.ip_address(info[4][0]) for info in infos]


@lru_cache(maxsize=8)
def _allowed_networks(networks: tuple[str, ...]) -> tuple[IPNetwork, ...]:
    return tuple(ipaddress.ip_network(network, strict=False) for network in networks)


def address_is_public(address: IPAddress) -> bool:
    """Whether a request may go to `address`: a public unicast address, or one in
    OUTBOUND_ALLOWED_NETWORKS. An IPv6 address that carries an IPv4 one (IPv4-mapped, NAT64,
    6to4) is judged by the IPv4 address it reaches."""
    if isinstance(address, ipaddress.IPv6Address):
        address = address.ipv4_mapped or address
    if any(address in network for network in _allowed_networks(tuple(settings.OUTBOUND_ALLOWED_NETWORKS))):
        return True
    if isinstance(address, ipaddress.IPv6Address):
        if address in _NAT64:
            return address_is_public(ipaddress.IPv4Address(int(address) & 0xFFFFFFFF))
        if address.sixtofour is not None:
            return address_is_public(address.sixtofour)
        if address.is_site_local:
            return False
    if any(address in network for network in _FORBIDDEN_NETWORKS):
        return False
    return address.is_global and not (
        address.is_multicast
        or address.is_private
        or address.is_loopback
        or address.is_link_local
        or address.is_reserved
        or address.is_unspecified
    )


def _resolve(host: str, port: int) -> list[IPAddress]:
    """`host_addresses` within OUTBOUND_CONNECT_TIMEOUT: the system's resolver can wait far
    longer than that, and form validation runs this in a web worker. A lookup still running is
    left to its daemon thread."""
    try:
        return [ipaddress.ip_address(host)]
    except ValueError:
        pass
    found: list[IPAddress] = []

    def lookup() -> None:
        # Not found, or a name the resolver cannot encode: `found` stays empty, refused below.
        with contextlib.suppress(OSError, UnicodeError, ValueError):
            found.extend(host_addresses(host, port))

    thread = threading.Thread(target=lookup, name="outbound-lookup", daemon=True)
    thread.start()
    thread.join(settings.OUTBOUND_CONNECT_TIMEOUT)
    return [] if thread.is_alive() else found


def outbound_target(url: str) -> OutboundTarget:
    """Checks `url` as a request would be checked (steps 1 and 2): raises OutboundRefused, or
    returns the URL and its checked addresses. The webhook form calls this too."""
    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, TypeError, ValueError):
        raise OutboundRefused(refusal=Refusal.UNRESOLVED) from None
    if parsed.scheme != "https":
        raise OutboundRefused(refusal=Refusal.NOT_HTTPS)
    host = parsed.host
    if not host:
        raise OutboundRefused(refusal=Refusal.UNRESOLVED)
    try:
        ascii_host = host if ":" in host else parsed.raw_host.decode("ascii")
    except UnicodeError:
        raise OutboundRefused(refusal=Refusal.UNRESOLVED) from None
    addresses = _resolve(ascii_host, parsed.port or 443)
    if not addresses:
        raise OutboundRefused(refusal=Refusal.UNRESOLVED)
    if not all(address_is_public(address) for address in addresses):
        raise OutboundRefused(refusal=Refusal.NOT_PUBLIC)
    # Duplicates (one per socket type or protocol) would only be tried twice.
    return OutboundTarget(url=parsed, host=ascii_host, addresses=tuple(dict.fromkeys(addresses)))


def _ssl_context() -> ssl.SSLContext:
    bundle = settings.OUTBOUND_CA_BUNDLE
    if bundle:
        return ssl.create_default_context(cafile=bundle)
    return httpx.create_ssl_context()


def outbound_post(
    *,
    url: str,
    body: bytes,
    headers: dict[str, str],
    timeout: float,
    verify: ssl.SSLContext | None = None,
) -> int:
    """POSTs `body` to `url` through the checks above; returns the HTTP status of a 2xx answer
    or raises OutboundError (OutboundRefused before any connection). The answer's body is not
    read: nothing here needs it, and a hostile server could send it without end.

    How the connection is made to the checked address (step 3): the request's URL names the
    address itself, so httpx has no name to look up, while the Host header keeps the name, and
    the `sni_hostname` extension makes httpcore send the name in the TLS handshake and verify
    the certificate against it. A certificate for the name is still required, exactly as if
    httpx had resolved it. A fresh client per request keeps a pooled connection from carrying
    one name's handshake into another's request.
    """
    target = outbound_target(url)
    connect = min(timeout, settings.OUTBOUND_CONNECT_TIMEOUT)
    host = target.host
    with httpx.Client(
        verify=verify or _ssl_context(),
        timeout=httpx.Timeout(timeout, connect=connect),
        follow_redirects=False,
        # No proxy from the environment: a proxy would make its own lookup of the name.
        trust_env=False,
    ) as client:
        for tried, address in enumerate(target.addresses[:_MAX_ADDRESSES_TRIED], start=1):
            try:
                with client.stream(
                    "POST",
                    target.url.copy_with(host=str(address)),
                    content=body,
                    headers={**headers, "Host": target.url.netloc.decode("ascii")},
                    extensions={"sni_hostname": host},
                ) as response:
                    status = response.status_code
                break
            except httpx.ConnectError as exc:
                # Nothing was sent: the next address may answer.
                if tried == min(len(target.addresses), _MAX_ADDRESSES_TRIED):
                    _log_failure(host, exc)
                    raise OutboundError() from None
            except (httpx.HTTPError, ssl.SSLError, OSError) as exc:
                _log_failure(host, exc)
                raise OutboundError() from None
    if not 200 <= status < 300:
        raise OutboundError(status=status)
    return status


def _log_failure(host: str, exc: BaseException) -> None:
    # For the service's operators, who may know why; the host is an organisation's system,
    # never a person's detail.
    logger.warning("Outbound request to %s failed: %s", host, type(exc).__name__)
