"""Moderation of accounts by admins: suspend and reactivate, change a plan, grant characters.

Each change records its audit event (actor: the admin) in the same transaction. A suspended
user is also inactive (`is_active=False`): Django's authentication backends then refuse the
user, so a session that survived is cut off on its next request, and the API-key
authentication (accounts.api.auth) answers 403 `account_suspended`. Their session rows are
deleted at once. What the apps above accounts must do (cancel the user's jobs, with refunds)
they do on the `user_suspended` signal, sent inside the same transaction.
"""

from __future__ import annotations

from django.contrib.sessions.models import Session
from django.db import transaction
from django.dispatch import Signal
from django.utils import timezone

from accounts.models import CharacterUsage, Plan, User
from accounts.usage import month_of
from audit.models import AuditEvent
from audit.services import audit_record
from config.service_errors import ServiceError

# Sent inside the suspension's transaction: kwargs user, admin_user, reason, request.
user_suspended = Signal()

MAX_GRANT = 1_000_000_000


def admin_record(*, action: str, admin_user, request, target, data: dict) -> None:
    audit_record(
        action=action,
        request=request,
        user=admin_user,
        actor_type=AuditEvent.ActorType.ADMIN,
        target=target,
        data=data,
    )


def reason_clean(reason: str) -> str:
    reason = (reason or "").strip()
    if not reason:
        raise ServiceError(
            "reason_required",
            "Give a reason; it is shown to the user concerned and kept in the audit log.",
        )
    return reason[:2000]


def sessions_end(*, user: User) -> int:
    """Delete every stored session of `user` (Django's database session store)."""
    user_id = str(user.pk)
    ended = []
    for session in Session.objects.filter(expire_date__gt=timezone.now()).iterator():
        if str(session.get_decoded().get("_auth_user_id")) == user_id:
            ended.append(session.pk)
    Session.objects.filter(pk__in=ended).delete()
    return len(ended)


@transaction.atomic
def user_suspend(*, user: User, reason: str, admin_user, request=None) -> User:
    """Suspend `user`: inactive, sessions ended, keys refused, jobs cancelled (by receivers of
    `user_suspended`). ServiceError `already_suspended`, `cannot_suspend_self`."""
    reason = reason_clean(reason)
    user = User.objects.select_for_update().get(pk=user.pk)
    if admin_user is not None and user.pk == admin_user.pk:
        raise ServiceError("cannot_suspend_self", "You cannot suspend your own account.")
    if user.suspended_at is not None:
        raise ServiceError("already_suspended", f"{user} is already suspended.")
    user.suspended_at = timezone.now()
    user.suspension_reason = reason
    user.is_active = False
    user.save(update_fields=["suspended_at", "suspension_reason", "is_active"])
    sessions = sessions_end(user=user)
    admin_record(
        action="accounts.user.suspended",
        admin_user=admin_user,
        request=request,
        target=user,
        data={"reason": reason, "sessions_ended": sessions},
    )
    user_suspended.send(
        sender=User, user=user, admin_user=admin_user, reason=reason, request=request
    )
    return user


@transaction.atomic
def user_reactivate(*, user: User, reason: str, admin_user, request=None) -> User:
    """Lift a suspension. ServiceError `not_suspended`."""
    reason = reason_clean(reason)
    user = User.objects.select_for_update().get(pk=user.pk)
    if user.suspended_at is None:
        raise ServiceError("not_suspended", f"{user} is not suspended.")
    previous = user.suspension_reason
    user.suspended_at = None
    user.suspension_reason = ""
    user.is_active = True
    user.save(update_fields=["suspended_at", "suspension_reason", "is_active"])
    admin_record(
        action="accounts.user.reactivated",
        admin_user=admin_user,
        request=request,
        target=user,
        data={"reason": reason, "suspension_reason": previous},
    )
    return user


@transaction.atomic
def user_plan_change(*, user: User, plan: Plan, admin_user, request=None) -> User:
    """Move `user` to `plan` (limits apply from the next request). Unchanged: no event."""
    user = User.objects.select_for_update(of=("self",)).select_related("plan").get(pk=user.pk)
    if user.plan_id == plan.pk:
        return user
    old = user.plan.slug if user.plan else None
    user.plan = plan
    user.save(update_fields=["plan"])
    admin_record(
        action="accounts.plan.changed",
        admin_user=admin_user,
        request=request,
        target=user,
        data={"old": old, "new": plan.slug},
    )
    return user


@transaction.atomic
def quota_grant(*, user: User, characters: int, reason: str, admin_user, request=None) -> int:
    """Give `user` extra characters for the current month (UTC), on top of the plan's limit.
    Returns the month's granted total. ServiceError `invalid_grant`."""
    reason = reason_clean(reason)
    if isinstance(characters, bool) or not isinstance(characters, int):
        raise ServiceError("invalid_grant", "Grant a whole number of characters.")
    if not 0 < characters <= MAX_GRANT:
        raise ServiceError("invalid_grant", f"Grant between 1 and {MAX_GRANT:,} characters.")
    month = month_of()
    CharacterUsage.objects.bulk_create(
        [CharacterUsage(user=user, month=month)], ignore_conflicts=True
    )
    usage = CharacterUsage.objects.select_for_update().get(user=user, month=month)
    usage.granted += characters
    usage.save(update_fields=["granted"])
    admin_record(
        action="accounts.quota.granted",
        admin_user=admin_user,
        request=request,
        target=user,
        data={
            "characters": characters,
            "month": month.strftime("%Y-%m"),
            "granted_total": usage.granted,
            "reason": reason,
        },
    )
    return usage.granted
