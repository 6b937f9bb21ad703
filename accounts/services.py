"""State changes for accounts. Each records its audit event in the same transaction."""

from __future__ import annotations

from django.db import transaction

from accounts.models import User
from accounts.selectors import plan_default
from audit.services import audit_record


@transaction.atomic
def user_signed_up(*, user: User, request=None) -> None:
    """Give a new user the default plan and record the signup."""
    if user.plan_id is None:
        user.plan = plan_default()
        user.save(update_fields=["plan"])
    audit_record(
        action="accounts.user.signed_up",
        request=request,
        user=user,
        target=user,
        data={"plan": user.plan.slug},
    )


@transaction.atomic
def user_profile_update(*, user: User, display_name: str, request=None) -> User:
    old = user.display_name
    user.display_name = display_name
    user.save(update_fields=["display_name"])
    audit_record(
        action="accounts.user.profile_updated",
        request=request,
        user=user,
        target=user,
        data={"display_name": {"old": old, "new": display_name}},
    )
    return user
