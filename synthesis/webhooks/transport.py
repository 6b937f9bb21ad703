"""Sending one webhook POST to the address that was checked, and no other.

A webhook URL names a host the user controls, so its DNS answer may change between a check
and a connection (DNS rebinding: public when checked, 127.0.0.1 when connected). Here the host
is resolved once per attempt, every address it resolves to is checked (public only, unless
WEBHOOKS_ALLOW_PRIVATE), and the connection goes to the first address that passed: the
connection classes below open the socket to that IP themselves while the request keeps the
URL's host name in its `Host` header and, for https, in TLS SNI and certificate verification.
No proxy from the environment is used and no redirect is followed (any 3xx answer is a failed
attempt, retried like other failures).

What went wrong is told to the user as a short category ("Timed out.", "HTTP 500", ...); the
underlying error stays in the server log.
"""

from __future__ import annotations

import http.client
import ipaddress
import socket
import ssl
from dataclasses import dataclass
from urllib.parse import urlsplit

MAX_URL_LENGTH = 2000

PRIVATE_REFUSED = (
    "The webhook host does not resolve to a public address: webhooks are not sent to private, "
    "loopback or reserved addresses (an operator can allow private ones with "
    "WEBHOOKS_ALLOW_PRIVATE)."
)


class WebhookUrlRefused(Exception):
    """The URL may not be called (scheme, unresolvable host, private address). The message is
    safe to show to the user: it names no address the host resolved to; `detail` (for the
    server log) does."""

    def __init__(self, message: str, *, detail: str = "") -> None:
        super().__init__(message)
        self.detail = detail or message


@dataclass(frozen=True)
class Target:
    """Where one attempt goes: the URL's parts and the one address that passed the check."""

    scheme: str
    host: str  # as in the URL (IDNA-encoded): for Host, SNI and certificate checks
    port: int
    path: str  # path and query, as sent in the request line
    address: str  # the IP the connection is opened to


def url_parts(url: str) -> tuple[str, str, int, str]:
    """(scheme, host, port, path) of a webhook URL, or WebhookUrlRefused."""
    url = (url or "").strip()
    if len(url) > MAX_URL_LENGTH:
        raise WebhookUrlRefused(f"The webhook URL is longer than {MAX_URL_LENGTH} characters.")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise WebhookUrlRefused("The webhook URL is not a valid URL.") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise WebhookUrlRefused("The webhook URL must be an http:// or https:// URL with a host.")
    if parts.username or parts.password:
        raise WebhookUrlRefused("The webhook URL must not contain a user name or password.")
    try:
        host = parts.hostname.encode("idna").decode("ascii")
    except UnicodeError:
        raise WebhookUrlRefused("The webhook URL's host name is not valid.") from None
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    return parts.scheme, host, port or (443 if parts.scheme == "https" else 80), path


def target_resolve(url: str, *, allow_private: bool) -> Target:
    """Resolve the URL's host once, check every address, and pin the first one."""
    scheme, host, port, path = url_parts(url)
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as exc:
        # Said like a private address when those are refused: the answer must not tell a user
        # which internal names exist.
        raise WebhookUrlRefused(
            f"The webhook host {host!r} does not resolve." if allow_private else PRIVATE_REFUSED,
            detail=f"{host!r} does not resolve: {exc}",
        ) from None
    addresses = [info[4][0] for info in infos]
    if not addresses or not (allow_private or all(address_allowed(a) for a in addresses)):
        raise WebhookUrlRefused(
            PRIVATE_REFUSED, detail=f"{host!r} resolves to {', '.join(addresses)}"
        )
    return Target(scheme=scheme, host=host, port=port, path=path, address=addresses[0])


def address_allowed(address: str) -> bool:
    """Whether webhooks may go to this address: a global unicast one."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    # IPv4-mapped IPv6 (::ffff:127.0.0.1) is judged as the IPv4 address it carries.
    ip = getattr(ip, "ipv4_mapped", None) or ip
    return ip.is_global and not ip.is_multicast


class _Pinned:
    """Opens the socket to `address` instead of resolving `host` again."""

    address: str
    host: str
    port: int
    timeout: float

    def _pinned_socket(self) -> socket.socket:
        sock = socket.create_connection((self.address, self.port), self.timeout)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return sock


class PinnedHTTPConnection(_Pinned, http.client.HTTPConnection):
    def __init__(self, host: str, port: int, *, address: str, timeout: float) -> None:
        super().__init__(host, port, timeout=timeout)
        self.address = address

    def connect(self) -> None:
        self.sock = self._pinned_socket()


class PinnedHTTPSConnection(_Pinned, http.client.HTTPSConnection):
    """TLS to the pinned address, with SNI and certificate verification for `host`."""

    def __init__(
        self,
        host: str,
        port: int,
        *,
        address: str,
        timeout: float,
        context: ssl.SSLContext | None = None,
    ) -> None:
        self.tls_context = context or ssl.create_default_context()
        super().__init__(host, port, timeout=timeout, context=self.tls_context)
        self.address = address

    @property
    def server_hostname(self) -> str:
        return self.host

    def connect(self) -> None:
        sock = self._pinned_socket()
        try:
            self.sock = self.tls_context.wrap_socket(sock, server_hostname=self.server_hostname)
        except BaseException:
            sock.close()
            raise


def connection_for(target: Target, *, timeout: float) -> http.client.HTTPConnection:
    if target.scheme == "https":
        return PinnedHTTPSConnection(
            target.host, target.port, address=target.address, timeout=timeout
        )
    return PinnedHTTPConnection(target.host, target.port, address=target.address, timeout=timeout)


def post(target: Target, *, body: bytes, headers: dict[str, str], timeout: float) -> int:
    """POST `body` to the target's pinned address; the answer's status code. Raises what
    http.client, ssl and socket raise (see `failure_category`)."""
    connection = connection_for(target, timeout=timeout)
    try:
        connection.request("POST", target.path, body=body, headers=headers)
        response = connection.getresponse()
        response.read(64 * 1024)  # a little of the body, so the connection ends cleanly
        return response.status
    finally:
        connection.close()


def failure_category(exc: BaseException) -> str:
    """What the user's delivery log says about an attempt that raised `exc`: a category, never
    the error's own text (which can describe the server's network)."""
    if isinstance(exc, TimeoutError | socket.timeout):
        return "Timed out."
    if isinstance(exc, ssl.SSLError | ssl.CertificateError):
        return "TLS error: the connection could not be secured or the certificate verified."
    if isinstance(exc, ConnectionRefusedError):
        return "Connection refused."
    if isinstance(exc, ConnectionResetError | BrokenPipeError | http.client.RemoteDisconnected):
        return "The connection was closed by the endpoint."
    if isinstance(exc, http.client.HTTPException):
        return "The endpoint's answer was not valid HTTP."
    return "Could not connect to the endpoint."


def status_category(status: int) -> str:
    """The delivery log's text for an answer that is not a 2xx."""
    if 300 <= status < 400:
        return f"HTTP {status}: redirects are not followed."
    return f"HTTP {status}"
