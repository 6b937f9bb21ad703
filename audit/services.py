"""The one function that writes the audit log, and the alert raised when the chain is broken."""

from __future__ import annotations

import logging
from typing import Any

from django.conf import settings
from django.core.mail import mail_admins
from django.db import connection, models, transaction
from django.utils import timezone

from audit.chain import GENESIS, HASHED_FIELDS, canonical_data, event_hash
from audit.models import AuditAlert, AuditCheckpoint, AuditEvent
from audit.verify import Verification
from config.logs import NO_REQUEST, request_id_var
from config.net import client_ip

logger = logging.getLogger(__name__)

# Key of the PostgreSQL transaction-level advisory lock that serialises appends to the chain
# (any constant unique to this use; "audit" in ASCII).
CHAIN_LOCK_KEY = 0x6175646974


def _actor(user, api_key, actor_type: str | None) -> tuple[str, Any, str, str]:
    if api_key is not None:
        owner = getattr(api_key, "user", None) or user
        return AuditEvent.ActorType.API_KEY, owner, str(owner or ""), str(api_key.pk)
    if user is not None and getattr(user, "is_authenticated", False):
        kind = actor_type or AuditEvent.ActorType.USER
        return kind, user, str(user), ""
    if actor_type == AuditEvent.ActorType.SYSTEM:
        return actor_type, None, "system", ""
    return AuditEvent.ActorType.ANONYMOUS, None, "", ""


def _lock_chain() -> None:
    """Serialise appends until the caller's transaction ends.

    PostgreSQL: a transaction-level advisory lock, taken before the tail is read and released at
    commit or rollback, so the next writer reads this event as the tail. SQLite: the settings open
    every transaction IMMEDIATE (the write lock is held from BEGIN), so writers are already
    serialised; the unique `seq` turns any other interleaving into an error, never a fork.
    """
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [CHAIN_LOCK_KEY])


def _request_id(request) -> str:
    """The request's id; without a request, the one of the request that queued this work."""
    if request is not None:
        return (getattr(request, "request_id", "") or "")[:64]
    current = request_id_var.get()
    return "" if current == NO_REQUEST else current[:64]


def audit_record(
    *,
    action: str,
    request=None,
    user=None,
    api_key=None,
    actor_type: str | None = None,
    target: models.Model | None = None,
    target_type: str = "",
    target_id: str = "",
    data: dict | None = None,
) -> AuditEvent:
    """Append one audit event to the hash chain.

    Call it inside the service's own transaction so the event exists exactly when the change
    does. `action` is namespaced: "<app>.<entity>.<verb>" (e.g. "accounts.user.signed_up").
    The actor is the API key when given, else `user`, else the request's user, else anonymous
    (or "system" with actor_type=SYSTEM for workers and sweeps).

    Appends are serialised (see _lock_chain): the lock is held until the caller's transaction
    ends. Audit last in a service, after the transaction's own row locks: a transaction that
    holds the chain lock and then waits for a row that another holds while waiting for the
    chain lock is a deadlock (PostgreSQL aborts one of the two).
    """
    if user is None and request is not None:
        user = getattr(request, "user", None)
    kind, actor_user, label, key_id = _actor(user, api_key, actor_type)
    if target is not None:
        target_type = target_type or target._meta.label_lower
        target_id = target_id or str(getattr(target, "code", None) or target.pk)
    event = AuditEvent(
        actor_type=kind,
        actor_user=actor_user,
        actor_label=label[:255],
        api_key_id=key_id,
        action=action,
        target_type=target_type,
        target_id=str(target_id),
        ip=client_ip(request) if request is not None else None,
        user_agent=(request.headers.get("User-Agent", "") if request is not None else "")[:512],
        request_id=_request_id(request),
        data=canonical_data(data or {}),
    )
    with transaction.atomic():
        _lock_chain()
        tail = AuditEvent.objects.order_by("-seq").values_list("seq", "hash").first()
        event.seq, event.prev_hash = (tail[0] + 1, tail[1]) if tail else (1, GENESIS)
        event.created_at = timezone.now()
        event.hash = event_hash({f: getattr(event, f) for f in HASHED_FIELDS})
        event.save(force_insert=True)
    return event


# --- alerts ------------------------------------------------------------------------------------
def audit_alert_raise(*, summary: str, problems: list[dict]) -> AuditAlert:
    """Open an admin-visible alert for a broken chain, or refresh the one already open.

    Also logs one ERROR line and mails ADMINS (when set) when the alert is new.
    """
    now = timezone.now()
    with transaction.atomic():
        alert = AuditAlert.objects.select_for_update().filter(is_open=True).first()
        created = alert is None
        if created:
            alert = AuditAlert.objects.create(
                last_seen_at=now, summary=summary[:255], problems=problems
            )
        else:
            alert.last_seen_at = now
            alert.runs += 1
            alert.summary = summary[:255]
            alert.problems = problems
            alert.save(update_fields=["last_seen_at", "runs", "summary", "problems"])
    logger.error("audit chain verification failed: %s", summary)
    if created and settings.ADMINS:
        mail_admins(
            "Audit chain verification failed",
            f"{summary}\n\nSee the audit alerts in the admin site.",
            fail_silently=True,
        )
    return alert


def audit_alert_resolve(*, alert: AuditAlert, user, note: str = "") -> AuditAlert:
    """An admin looked into an alert and closes it (itself an audited action)."""
    with transaction.atomic():
        if alert.is_open:
            alert.is_open = False
            alert.resolved_at = timezone.now()
            alert.resolved_by = user
            alert.resolution = note
            alert.save(update_fields=["is_open", "resolved_at", "resolved_by", "resolution"])
            audit_record(
                action="audit.alert.resolved",
                user=user,
                actor_type=AuditEvent.ActorType.ADMIN,
                target=alert,
                data={"summary": alert.summary, "note": note},
            )
    return alert


def audit_checkpoint_save(result: Verification) -> None:
    """Remember the end of a chain that just verified: the next verification must find it again
    (audit.verify.checkpoint_problems). Nothing is saved for a broken or empty chain."""
    if not result.ok or not result.checked:
        return
    AuditCheckpoint.objects.update_or_create(
        pk=1,
        defaults={"seq": result.last_seq, "hash": result.last_hash, "verified_at": timezone.now()},
    )
