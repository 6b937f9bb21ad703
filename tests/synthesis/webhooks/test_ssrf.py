"""Webhook SSRF: the POST goes to the very address that passed the check (DNS rebinding),
with the URL's host in `Host` and in TLS (SNI, certificate), and the user's delivery log holds
a category of what went wrong, not the error itself.

Name resolution is scripted by replacing `socket.getaddrinfo` for made-up names only; the
connections are real, to real servers on 127.0.0.1.
"""

from __future__ import annotations

import datetime
import http.client
import socket
import ssl
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from synthesis.webhooks import services as webhooks
from synthesis.webhooks import transport
from tests.synthesis.api_helpers import job_request, make_ready_voice

pytestmark = pytest.mark.django_db

PUBLIC = "203.0.113.10"  # TEST-NET-3 (a reserved address: refused like a private one)
LOOPBACK = "127.0.0.1"
# Stands in for a public web server: a second loopback address the address rule is told to
# accept (a real public address would send test traffic out of the machine).
STAND_IN = "127.0.0.2"


class Receiver:
    """An HTTP(S) server on 127.0.0.1 recording what reaches it (and the TLS server name)."""

    def __init__(self, *, tls: ssl.SSLContext | None = None, address=LOOPBACK, port=0):
        self.requests: list[dict] = []
        self.server_names: list[str | None] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                length = int(self.headers.get("Content-Length", 0))
                receiver.requests.append(
                    {"headers": dict(self.headers), "body": self.rfile.read(length)}
                )
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer((address, port), Handler)
        if tls is not None:
            tls.sni_callback = lambda sock, name, context: self.server_names.append(name)
            self.server.socket = tls.wrap_socket(self.server.socket, server_side=True)
        self.port = self.server.server_port
        threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        ).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


class Resolver:
    """Answers for made-up names, one scripted answer per lookup (the last one repeats); an
    answer is an address or a tuple of addresses."""

    def __init__(self, monkeypatch):
        self.answers: dict[str, list] = {}
        self.lookups: list[str] = []
        real = socket.getaddrinfo

        def getaddrinfo(host, port, *args, **kwargs):
            if host not in self.answers:
                return real(host, port, *args, **kwargs)
            self.lookups.append(host)
            queue = self.answers[host]
            answer = queue.pop(0) if len(queue) > 1 else queue[0]
            addresses = (answer,) if isinstance(answer, str) else answer
            return [
                (socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, port))
                for address in addresses
            ]

        monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)

    def script(self, host: str, *answers) -> None:
        self.answers[host] = list(answers)


@pytest.fixture
def resolver(monkeypatch):
    return Resolver(monkeypatch)


@pytest.fixture
def receivers():
    made = []

    def make(**kwargs):
        made.append(Receiver(**kwargs))
        return made[-1]

    yield make
    for receiver in made:
        receiver.close()


@pytest.fixture
def voice(owner):
    return make_ready_voice(owner, "V")


def _delivery(owner, voice, url):
    job = job_request(owner, voice)
    return webhooks.delivery_create(owner=owner, url=url, event="synthesis.job.succeeded", job=job)


def test_a_name_rebound_to_loopback_after_the_check_is_never_called(
    owner, voice, resolver, receivers, settings, monkeypatch
):
    settings.WEBHOOKS_ALLOW_PRIVATE = False
    internal = receivers()  # a service on 127.0.0.1 that must never be reached
    public = receivers(address=STAND_IN, port=internal.port)  # the user's real endpoint
    rule = transport.address_allowed
    monkeypatch.setattr(transport, "address_allowed", lambda a: a == STAND_IN or rule(a))
    host = "rebind.example.test"
    url = f"http://{host}:{internal.port}/hook"
    # Public for the first lookup, loopback for every later one: a client that looks the name
    # up again to connect (urllib did) reaches 127.0.0.1.
    resolver.script(host, STAND_IN, LOOPBACK)
    delivery = _delivery(owner, voice, url)

    assert webhooks.delivery_attempt(delivery_id=delivery.pk) is None
    assert resolver.lookups == [host]  # one lookup: the connection went to the checked address
    assert len(public.requests) == 1 and internal.requests == []
    assert public.requests[0]["headers"]["Host"] == f"{host}:{internal.port}"
    delivery.refresh_from_db()
    assert (delivery.status, delivery.last_status_code) == ("delivered", 204)

    # A later delivery to the same name now finds loopback: refused for good, never sent.
    again = _delivery(owner, voice, url)
    assert webhooks.delivery_attempt(delivery_id=again.pk) is None
    again.refresh_from_db()
    assert (again.status, again.attempts, again.last_status_code) == ("failed", 1, None)
    assert again.last_error.startswith("Blocked:") and "private" in again.last_error
    assert LOOPBACK not in again.last_error  # the user is not told what the name resolves to
    assert internal.requests == [] and len(public.requests) == 1


def test_a_documentation_address_counts_as_reserved(owner, voice, resolver, receivers, settings):
    """203.0.113.0/24 is not a public address either: a name resolving there is refused."""
    settings.WEBHOOKS_ALLOW_PRIVATE = False
    internal = receivers()
    resolver.script("docs.example.test", PUBLIC, LOOPBACK)
    delivery = _delivery(owner, voice, f"http://docs.example.test:{internal.port}/h")
    assert webhooks.delivery_attempt(delivery_id=delivery.pk) is None
    delivery.refresh_from_db()
    assert delivery.status == "failed" and PUBLIC not in delivery.last_error
    assert internal.requests == []


def test_a_name_with_one_private_address_among_public_ones_is_refused(resolver, settings):
    settings.WEBHOOKS_ALLOW_PRIVATE = False
    url = "https://mixed.example.test/h"
    # Only checked, never connected to.
    resolver.script("mixed.example.test", "1.1.1.1", ("1.1.1.1", "10.0.0.7"))
    assert webhooks.webhook_url_check(url) == url
    with pytest.raises(webhooks.ServiceError) as info:
        webhooks.webhook_url_check(url)
    assert info.value.code == "invalid_webhook_url"
    assert "10.0.0.7" not in info.value.message


def test_a_pinned_delivery_keeps_the_host_header(owner, voice, resolver, receivers, settings):
    settings.WEBHOOKS_ALLOW_PRIVATE = True
    receiver = receivers()
    host = "hooks.example.test"
    resolver.script(host, LOOPBACK)
    delivery = _delivery(owner, voice, f"http://{host}:{receiver.port}/in/timbre?team=7")

    assert webhooks.delivery_attempt(delivery_id=delivery.pk) is None
    delivery.refresh_from_db()
    assert (delivery.status, delivery.last_status_code, delivery.last_error) == (
        "delivered",
        204,
        "",
    )
    (request,) = receiver.requests
    assert request["headers"]["Host"] == f"{host}:{receiver.port}"
    assert request["headers"]["Timbre-Event"] == "synthesis.job.succeeded"
    assert resolver.lookups == [host]


# --- TLS -------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def tls_files(tmp_path_factory):
    """A test CA and a server certificate it signed for hooks.example.test."""
    x509 = pytest.importorskip("cryptography.x509")
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    folder = tmp_path_factory.mktemp("tls")
    now = datetime.datetime.now(datetime.UTC)

    def certificate(subject, issuer, key, signer, *, ca, names=()):
        builder = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
            .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, issuer)]))
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(hours=1))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        )
        if names:
            builder = builder.add_extension(
                x509.SubjectAlternativeName([x509.DNSName(name) for name in names]),
                critical=False,
            )
        return builder.sign(signer, hashes.SHA256())

    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = certificate("Timbre test CA", "Timbre test CA", ca_key, ca_key, ca=True)
    key = ec.generate_private_key(ec.SECP256R1())
    cert = certificate(
        "hooks.example.test", "Timbre test CA", key, ca_key, ca=False, names=["hooks.example.test"]
    )
    pem = serialization.Encoding.PEM
    (folder / "ca.pem").write_bytes(ca.public_bytes(pem))
    (folder / "server.pem").write_bytes(
        cert.public_bytes(pem)
        + key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return folder


def _server_context(tls_files) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(tls_files / "server.pem")
    return context


def test_https_goes_to_the_pinned_address_with_sni_and_a_verified_certificate(
    owner, voice, resolver, receivers, settings, tls_files, monkeypatch
):
    settings.WEBHOOKS_ALLOW_PRIVATE = True
    monkeypatch.setenv("SSL_CERT_FILE", str(tls_files / "ca.pem"))  # trust the test CA
    receiver = receivers(tls=_server_context(tls_files))
    host = "hooks.example.test"
    resolver.script(host, LOOPBACK)
    delivery = _delivery(owner, voice, f"https://{host}:{receiver.port}/in")

    assert webhooks.delivery_attempt(delivery_id=delivery.pk) is None
    delivery.refresh_from_db()
    assert (delivery.status, delivery.last_status_code) == ("delivered", 204)
    assert receiver.server_names == [host]  # SNI: the URL's host, not the pinned IP
    assert receiver.requests[0]["headers"]["Host"] == f"{host}:{receiver.port}"


def test_a_certificate_for_another_name_fails_as_a_tls_error(
    owner, voice, resolver, receivers, settings, tls_files, monkeypatch
):
    settings.WEBHOOKS_ALLOW_PRIVATE = True
    monkeypatch.setenv("SSL_CERT_FILE", str(tls_files / "ca.pem"))
    receiver = receivers(tls=_server_context(tls_files))
    host = "elsewhere.example.test"  # resolves to the same server, whose certificate is not for it
    resolver.script(host, LOOPBACK)
    delivery = _delivery(owner, voice, f"https://{host}:{receiver.port}/in")

    webhooks.delivery_attempt(delivery_id=delivery.pk)
    delivery.refresh_from_db()
    assert delivery.status == "pending" and delivery.last_status_code is None
    assert delivery.last_error.startswith("TLS error")
    assert (
        "elsewhere" not in delivery.last_error and "certificate verify" not in delivery.last_error
    )
    assert receiver.requests == []


def test_the_https_connection_object_verifies_the_url_host():
    connection = transport.PinnedHTTPSConnection(
        "hooks.example.test", 443, address=LOOPBACK, timeout=1
    )
    assert connection.server_hostname == "hooks.example.test"
    assert connection.address == LOOPBACK
    assert connection.tls_context.check_hostname
    assert connection.tls_context.verify_mode == ssl.CERT_REQUIRED


@pytest.mark.parametrize(
    ("exc", "category"),
    [
        (TimeoutError("timed out"), "Timed out."),
        (ConnectionRefusedError(111, "Connection refused"), "Connection refused."),
        (ssl.SSLCertVerificationError("certificate verify failed: Hostname mismatch"), "TLS error"),
        (http.client.BadStatusLine("garbage"), "The endpoint's answer was not valid HTTP."),
        (OSError(113, "No route to host 10.1.2.3"), "Could not connect to the endpoint."),
    ],
)
def test_failures_are_told_as_categories(exc, category):
    told = transport.failure_category(exc)
    assert told.startswith(category)
    assert str(exc) not in told
