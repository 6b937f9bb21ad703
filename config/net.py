"""Which address a request came from, trusting only the proxies the operator declared."""

from __future__ import annotations

import ipaddress

from django.conf import settings


def client_ip(request) -> str | None:
    """The client address, counting NUM_PROXIES trusted hops from the right of X-Forwarded-For.

    A client can prepend anything to X-Forwarded-For; only the entries appended by our own
    proxies are trustworthy, so we take the one our outermost proxy saw.
    """
    remote = request.META.get("REMOTE_ADDR") or None
    hops = getattr(settings, "NUM_PROXIES", 0)
    if hops <= 0:
        return _valid(remote)
    forwarded = [p.strip() for p in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")]
    forwarded = [p for p in forwarded if p]
    if len(forwarded) >= hops:
        return _valid(forwarded[-hops]) or _valid(remote)
    return _valid(remote)


def _valid(value: str | None) -> str | None:
    if not value:
        return None
    try:
        return str(ipaddress.ip_address(value))
    except ValueError:
        return None
