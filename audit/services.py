"""The one function that writes the audit log."""

from __future__ import annotations

from typing import Any

from django.db import models, transaction

from audit.models import AuditEvent
from config.net import client_ip


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
    """Append one audit event.

    Call it inside the service's own transaction so the event exists exactly when the change
    does. `action` is namespaced: "<app>.<entity>.<verb>" (e.g. "accounts.user.signed_up").
    The actor is the API key when given, else `user`, else the request's user, else anonymous
    (or "system" with actor_type=SYSTEM for workers and sweeps).
    """
    if user is None and request is not None:
        user = getattr(request, "user", None)
    kind, actor_user, label, key_id = _actor(user, api_key, actor_type)
    if target is not None:
        target_type = target_type or target._meta.label_lower
        target_id = target_id or str(getattr(target, "code", None) or target.pk)
    with transaction.atomic():
        return AuditEvent.objects.create(
            actor_type=kind,
            actor_user=actor_user,
            actor_label=label[:255],
            api_key_id=key_id,
            action=action,
            target_type=target_type,
            target_id=str(target_id),
            ip=client_ip(request) if request is not None else None,
            user_agent=(request.headers.get("User-Agent", "") if request is not None else "")[:512],
            request_id=getattr(request, "request_id", "") if request is not None else "",
            data=data or {},
        )
