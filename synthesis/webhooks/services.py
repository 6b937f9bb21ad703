"""Webhooks: a signed POST to the user's URL when a job or batch ends, retried with backoff.

Signature (like Stripe's): header `Timbre-Signature: t=<unix seconds>,v1=<hex>` where the hex is
HMAC-SHA256 over "<t>.<raw body>" with the user's webhook secret. A receiver recomputes it,
compares in constant time and refuses old timestamps (see `signature_verify`).

Only http(s) URLs whose host resolves to public addresses alone are accepted, checked when the
request is made and again at every attempt, which then connects to the very address that
passed (no second lookup a re-pointed name could exploit; see synthesis.webhooks.transport);
WEBHOOKS_ALLOW_PRIVATE lifts that for installations that call services on their own network.
Redirects are not followed. The delivery log tells the user what went wrong as a category
("Timed out.", "HTTP 500"); details go to the server log. Deliveries run on the `default` queue
(synthesis.housekeeping.webhook_deliver), never in the web process.
"""

from __future__ import annotations

import hashlib
import hmac
import http.client
import json
import logging
import secrets
import time
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from audit.services import audit_record
from config.queueing import task_send_on_commit
from config.service_errors import ServiceError
from synthesis.models import SynthesisBatch, SynthesisJob, WebhookDelivery, WebhookSecret
from synthesis.webhooks import payloads, transport
from synthesis.webhooks.transport import WebhookUrlRefused

logger = logging.getLogger(__name__)

SIGNATURE_HEADER = "Timbre-Signature"
MAX_URL_LENGTH = transport.MAX_URL_LENGTH
USER_AGENT = "Timbre-Webhooks/1"


# --- URLs ------------------------------------------------------------------------------------
def webhook_url_check(url: str) -> str:
    """The URL if webhooks may be sent to it; ServiceError `invalid_webhook_url` if not."""
    url = (url or "").strip()
    try:
        transport.target_resolve(url, allow_private=settings.WEBHOOKS_ALLOW_PRIVATE)
    except WebhookUrlRefused as exc:
        raise ServiceError(
            code="invalid_webhook_url",
            message=str(exc),
        ) from None
    return url


# --- secrets ---------------------------------------------------------------------------------
def _new_secret() -> str:
    return "whsec_" + secrets.token_urlsafe(32)


@transaction.atomic
def secret_get(*, owner, request=None) -> WebhookSecret:
    """The user's signing secret, made on first use (audited synthesis.webhook_secret.created)."""
    secret, created = WebhookSecret.objects.get_or_create(
        owner=owner, defaults={"secret": _new_secret()}
    )
    if created:
        audit_record(
            action="synthesis.webhook_secret.created", request=request, user=owner, target=owner
        )
    return secret


@transaction.atomic
def secret_rotate(*, owner, request=None, api_key=None) -> WebhookSecret:
    """A new secret at once; deliveries signed from now on use it (the old one stops working)."""
    secret = secret_get(owner=owner, request=request)
    secret.secret = _new_secret()
    secret.rotated_at = timezone.now()
    secret.save(update_fields=["secret", "rotated_at"])
    audit_record(
        action="synthesis.webhook_secret.rotated",
        request=request,
        user=owner,
        api_key=api_key,
        target=owner,
    )
    return secret


def signature_header(*, secret: str, body: bytes, timestamp: int | None = None) -> str:
    timestamp = int(time.time()) if timestamp is None else timestamp
    signed = f"{timestamp}.".encode() + body
    digest = hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def signature_verify(*, header: str, body: bytes, secret: str, tolerance: int = 300) -> bool:
    """What a receiver does: recompute, compare in constant time, refuse stale timestamps."""
    fields = dict(part.split("=", 1) for part in header.split(",") if "=" in part)
    try:
        timestamp = int(fields["t"])
    except (KeyError, ValueError):
        return False
    if abs(time.time() - timestamp) > tolerance:
        return False
    expected = signature_header(secret=secret, body=body, timestamp=timestamp)
    return hmac.compare_digest(expected, f"t={timestamp},v1={fields.get('v1', '')}")


# --- deliveries ------------------------------------------------------------------------------
def delivery_create(
    *, owner, url: str, event: str, job: SynthesisJob | None = None, batch=None
) -> WebhookDelivery:
    """Record an event to deliver and queue its first attempt once the transaction commits."""
    delivery = WebhookDelivery(owner=owner, job=job, batch=batch, event=event, url=url)
    delivery.payload = {
        "id": str(delivery.code),
        "type": event,
        "created_at": timezone.now().isoformat().replace("+00:00", "Z"),
        "data": _event_data(job=job, batch=batch),
    }
    delivery.save()
    task_send_on_commit("synthesis.housekeeping.webhook_deliver", delivery_id=delivery.pk)
    return delivery


def _event_data(*, job, batch) -> dict:
    if job is not None:
        return {"job": payloads.job_payload(job)}
    return {"batch": payloads.batch_payload(batch)}


def delivery_attempt(*, delivery_id: int) -> float | None:
    """Make one attempt. Returns the seconds to wait before the next one, or None when the
    delivery is finished (delivered, given up, or not pending any more).

    The host is resolved and checked once, and the POST goes to the address that passed
    (synthesis.webhooks.transport). The delivery log the user reads gets a category of what
    went wrong; the error itself goes to the server log only."""
    delivery = (
        WebhookDelivery.objects.select_related("owner")
        .filter(pk=delivery_id, status=WebhookDelivery.Status.PENDING)
        .first()
    )
    if delivery is None:
        return None
    body = json.dumps(delivery.payload, separators=(",", ":")).encode()
    secret = secret_get(owner=delivery.owner).secret
    started = timezone.now()
    try:
        target = transport.target_resolve(
            delivery.url, allow_private=settings.WEBHOOKS_ALLOW_PRIVATE
        )
    except WebhookUrlRefused as exc:
        logger.warning("Webhook delivery %s refused: %s", delivery.code, exc.detail)
        return _attempt_record(delivery, started, None, f"Blocked: {exc}", permanent=True)
    try:
        status_code = transport.post(
            target,
            body=body,
            headers=_headers(delivery, body, secret),
            timeout=settings.WEBHOOK_TIMEOUT_SECONDS,
        )
    except (OSError, http.client.HTTPException, ValueError) as exc:
        logger.warning(
            "Webhook delivery %s to %s (%s) failed: %r",
            delivery.code,
            target.host,
            target.address,
            exc,
        )
        return _attempt_record(delivery, started, None, transport.failure_category(exc))
    error = "" if 200 <= status_code < 300 else transport.status_category(status_code)
    return _attempt_record(delivery, started, status_code, error)


def _headers(delivery: WebhookDelivery, body: bytes, secret: str) -> dict[str, str]:
    return {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        SIGNATURE_HEADER: signature_header(secret=secret, body=body),
        "Timbre-Event": delivery.event,
        "Timbre-Delivery": str(delivery.code),
    }


def _attempt_record(delivery, started, status_code, error, *, permanent=False) -> float | None:
    attempts = delivery.attempts + 1
    delivered = status_code is not None and 200 <= status_code < 300 and not error
    retry_in = None
    if delivered:
        state = WebhookDelivery.Status.DELIVERED
    elif permanent or attempts >= settings.WEBHOOK_MAX_ATTEMPTS:
        state = WebhookDelivery.Status.FAILED
    else:
        state = WebhookDelivery.Status.PENDING
        retry_in = min(
            settings.WEBHOOK_RETRY_BASE_SECONDS * 2 ** (attempts - 1),
            settings.WEBHOOK_RETRY_MAX_SECONDS,
        )
    WebhookDelivery.objects.filter(pk=delivery.pk).update(
        attempts=F("attempts") + 1,
        status=state,
        last_status_code=status_code,
        last_error=error,
        last_attempt_at=started,
        delivered_at=timezone.now() if delivered else None,
        next_attempt_at=started + timedelta(seconds=retry_in) if retry_in is not None else None,
    )
    return retry_in


def batch_event(batch: SynthesisBatch) -> str:
    return (
        "synthesis.batch.completed"
        if batch.status == SynthesisBatch.Status.DONE
        else "synthesis.batch.failed"
    )


# The sweeper's share (synthesis.jobs.recovery): a delivery whose first attempt never reached
# the broker, or whose retry is long overdue (its countdown message was lost with a worker or
# a broker), is sent again. Receivers get at-least-once delivery and dedupe by the event id.
OVERDUE_SECONDS = 300


def deliveries_resend(*, limit: int = 200) -> int:
    from config.queueing import task_send

    now = timezone.now()
    overdue = now - timedelta(seconds=OVERDUE_SECONDS)
    due = WebhookDelivery.objects.filter(status=WebhookDelivery.Status.PENDING).filter(
        Q(attempts=0, next_attempt_at__isnull=True, created_at__lt=overdue)
        | Q(next_attempt_at__lt=overdue)
    )
    sent = 0
    for delivery_id in list(due.values_list("pk", flat=True)[:limit]):
        if task_send("synthesis.housekeeping.webhook_deliver", delivery_id=delivery_id) is False:
            break
        # Not again before the next overdue window.
        WebhookDelivery.objects.filter(pk=delivery_id).update(next_attempt_at=now)
        sent += 1
    return sent
