"""Who may read /metrics: a bearer token (METRICS_TOKEN) or an allowed network
(METRICS_ALLOWED_NETWORKS, loopback by default), judged on `config.net.client_ip`."""

from __future__ import annotations

import functools
import hmac
import ipaddress

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from config.net import client_ip


@functools.lru_cache(maxsize=8)
def _networks(values: tuple[str, ...]) -> tuple:
    networks = []
    for value in values:
        try:
            networks.append(ipaddress.ip_network(value.strip(), strict=False))
        except ValueError as exc:
            raise ImproperlyConfigured(
                f"METRICS_ALLOWED_NETWORKS: {value!r} is not an address or CIDR network ({exc})."
            ) from exc
    return tuple(networks)


def allowed_networks() -> tuple:
    return _networks(tuple(v for v in settings.METRICS_ALLOWED_NETWORKS if v.strip()))


def _in_networks(address: str) -> bool:
    ip = ipaddress.ip_address(address)
    candidates = [ip]
    if ip.version == 6 and ip.ipv4_mapped:  # a dual-stack socket's view of an IPv4 client
        candidates.append(ip.ipv4_mapped)
    return any(
        c in net for c in candidates for net in allowed_networks() if c.version == net.version
    )


def metrics_refusal(request) -> int | None:
    """None when the request may read the metrics; else the status to refuse it with: 401 for
    a bearer token that is not METRICS_TOKEN, 403 for a client outside the allowed networks."""
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() == "bearer":
        token = settings.METRICS_TOKEN
        if token and hmac.compare_digest(given.strip().encode(), token.encode()):
            return None
        return 401
    address = client_ip(request)
    if address and _in_networks(address):
        return None
    return 403
