"""State changes for accounts. Each records its audit event in the same transaction."""

from __future__ import annotations

from django.db import transaction

from accounts.models import User, UserAPIKey
from accounts.selectors import plan_default
from audit.services import audit_record
from config.service_errors import ServiceError


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


@transaction.atomic
def api_key_create(
    *,
    user: User,
    name: str,
    scopes: list[str],
    expiry_date=None,
    monthly_character_cap: int | None = None,
    request=None,
) -> tuple[UserAPIKey, str]:
    """Create a key; the secret is returned once here and only its hash is stored."""
    unknown = set(scopes) - {*UserAPIKey.SCOPES, UserAPIKey.ALL}
    if unknown or not scopes:
        raise ServiceError(
            code="invalid_scopes",
            message=f"Choose scopes among: {', '.join((*UserAPIKey.SCOPES, UserAPIKey.ALL))}.",
        )
    key, secret = UserAPIKey.objects.create_key(
        user=user,
        name=name,
        scopes=sorted(set(scopes)),
        expiry_date=expiry_date,
        monthly_character_cap=monthly_character_cap,
    )
    audit_record(
        action="accounts.api_key.created",
        request=request,
        user=user,
        target_type="accounts.userapikey",
        target_id=key.prefix,
        data={"name": name, "scopes": key.scopes},
    )
    return key, secret


@transaction.atomic
def api_key_revoke(*, user: User, key: UserAPIKey, request=None) -> UserAPIKey:
    if key.user_id != user.pk:
        raise UserAPIKey.DoesNotExist
    if not key.revoked:
        key.revoked = True
        key.save(update_fields=["revoked"])
        audit_record(
            action="accounts.api_key.revoked",
            request=request,
            user=user,
            target_type="accounts.userapikey",
            target_id=key.prefix,
            data={"name": key.name},
        )
    return key
