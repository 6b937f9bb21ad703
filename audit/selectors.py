"""Reading the audit log."""

from __future__ import annotations

from django.db.models import Q, QuerySet

from audit.models import AuditEvent

# What a user's Security page lists: their account's events (logins, failed logins, logouts,
# password and two-factor changes, API keys, suspension, plan, deletion).
SECURITY_ACTION_PREFIXES = ("accounts.",)


def audit_events_for_account(*, user, prefixes=SECURITY_ACTION_PREFIXES) -> QuerySet:
    """Events the user did themselves, or that were done to their account (by anyone: failed
    logins naming them, an admin's change), newest first."""
    mine = Q(actor_user_id=user.pk) | Q(
        target_type=user._meta.label_lower, target_id=str(getattr(user, "code", user.pk))
    )
    prefix_match = Q()
    for prefix in prefixes:
        prefix_match |= Q(action__startswith=prefix)
    return AuditEvent.objects.filter(mine).filter(prefix_match).order_by("-seq")
