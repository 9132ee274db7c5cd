"""HTTPS for tests of outbound requests (core/outbound.py): a certificate authority made for the
test run, a server certificate it signs for the local names and addresses the tests serve on,
and a small recording HTTPS server.

Outbound requests trust this authority through OUTBOUND_CA_BUNDLE (set for the whole run, and
for the workers tests start, by tests/conftest.py), as a closed network's own CA would be.
"""

import datetime as dt
import ipaddress
import socket
import ssl
import tempfile
import threading
import time
from dataclasses import dataclass, field
from functools import lru_cache
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

# The tests' webhook receiver listens here, the one address the test settings let outbound
# requests reach (OUTBOUND_ALLOWED_NETWORKS): the rest of loopback stays refused, as in production.
RECEIVER_HOST = "127.0.0.2"
# A name only the tests' resolver knows (tests/conftest.py `outbound_names`), in the certificate.
CERTIFIED_NAME = "receiver.test"
# "faß.test" as IDNA 2008 spells it (IDNA 2003, Python's own codec, makes it "fass.test").
CERTIFIED_IDNA_NAME = "xn--fa-hia.test"
_ADDRESSES = ("127.0.0.1", RECEIVER_HOST, "0.0.0.0", "::1", "::ffff:127.0.0.1")  # noqa: S104 - served locally


@dataclass(frozen=True)
class LocalCertificates:
    ca_path: Path
    cert_path: Path
    key_path: Path

    def server_context(self) -> ssl.SSLContext:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(self.cert_path, self.key_path)
        return context

    def client_context(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=str(self.ca_path))


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


@lru_cache(maxsize=1)
def local_certificates() -> LocalCertificates:
    """Made once per process, in a directory of its own (no two runs share a key)."""
    directory = Path(tempfile.mkdtemp(prefix="cpis-test-tls-"))
    now = dt.datetime.now(dt.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = (
        x509.CertificateBuilder()
        .subject_name(_name("CP-IS test CA"))
        .issuer_name(_name("CP-IS test CA"))
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(hours=1))
        .not_valid_after(now + dt.timedelta(days=2))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True, key_cert_sign=True, crl_sign=True, content_commitment=False,
                key_encipherment=False, data_encipherment=False, key_agreement=False,
                encipher_only=False, decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )  # fmt: skip
    key = ec.generate_private_key(ec.SECP256R1())
    names = [x509.DNSName(CERTIFIED_NAME), x509.DNSName(CERTIFIED_IDNA_NAME), x509.DNSName("localhost")]
    names += [x509.IPAddress(ipaddress.ip_address(address)) for address in _ADDRESSES]
    certificate = (
        x509.CertificateBuilder()
        .subject_name(_name(CERTIFIED_NAME))
        .issuer_name(ca.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(hours=1))
        .not_valid_after(now + dt.timedelta(days=2))
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    paths = LocalCertificates(
        ca_path=directory / "ca.pem", cert_path=directory / "server.pem", key_path=directory / "server-key.pem"
    )
    paths.ca_path.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    paths.cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    paths.key_path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return paths


def https_server(host: str, handler: type[BaseHTTPRequestHandler]) -> ThreadingHTTPServer:
    """A threading HTTPS server on `host` and a free port, serving in a daemon thread. The TLS
    handshake happens in each request's own thread, so a slow client holds up no other."""

    class Server(ThreadingHTTPServer):
        address_family = socket.AF_INET6 if ":" in host else socket.AF_INET
        daemon_threads = True

        def handle_error(self, request, client_address):
            pass  # a handshake a test's client refuses (an untrusted or misnamed certificate)

    server = Server((host, 0), handler)
    context = local_certificates().server_context()
    context.sni_callback = _remember_server_name
    server.socket = context.wrap_socket(server.socket, server_side=True, do_handshake_on_connect=False)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def _remember_server_name(connection: ssl.SSLSocket, server_name: str | None, context: ssl.SSLContext) -> None:
    connection.sni_name = server_name  # type: ignore[attr-defined]  # read by the handlers


@dataclass
class Seen:
    path: str
    headers: dict[str, str]
    body: bytes
    server_name: str | None


@dataclass
class RecordingServer:
    """Answers every POST with `status` (and `location`, for a redirect) after `delay` seconds,
    recording what it was sent."""

    host: str = RECEIVER_HOST
    status: int = 200
    location: str = ""
    delay: float = 0.0
    seen: list[Seen] = field(default_factory=list)

    def start(self) -> "RecordingServer":
        recorder = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                recorder.seen.append(
                    Seen(self.path, dict(self.headers.items()), body, getattr(self.connection, "sni_name", None))
                )
                if recorder.delay:
                    time.sleep(recorder.delay)
                self.send_response(recorder.status)
                if recorder.location:
                    self.send_header("Location", recorder.location)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = https_server(self.host, Handler)
        self.port = self.server.server_address[1]
        return self

    def url(self, host: str | None = None) -> str:
        host = host or self.host
        return f"https://{f'[{host}]' if ':' in host else host}:{self.port}/hook"

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
