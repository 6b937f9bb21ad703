"""State changes for accounts. Each records its audit event in the same transaction."""

from __future__ import annotations

from django.db import transaction
from django.dispatch import Signal

from accounts.models import User, UserAPIKey
from accounts.moderation import sessions_end
from accounts.selectors import plan_default
from audit.services import audit_record
from config.service_errors import ServiceError

# Sent whenever a user is about to be deleted (account_delete, the admin, a shell), inside the
# deletion's transaction, before the rows go (kwargs: user; accounts.signals sends it from
# pre_delete). Apps above accounts (voices, synthesis) connect to it to delete the user's stored
# files once the deletion commits; their rows go with the user by cascade.
user_deleting = Signal()


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


@transaction.atomic
def account_delete(*, user: User, request=None) -> None:
    """Delete an account for good: its rows, stored files and sessions, audited once.

    Everything the user owns goes by cascade (samples, voices, consents, jobs, outputs, batches,
    keys, usage); receivers of `user_deleting` (sent on pre_delete) delete the stored files on
    commit. The audit event
    keeps the actor's label (their email); the audit rows themselves are never touched.
    ServiceError `last_admin` when this is the only active superuser.
    """
    user = User.objects.select_for_update().get(pk=user.pk)
    if (
        user.is_superuser
        and not User.objects.filter(is_superuser=True, is_active=True).exclude(pk=user.pk).exists()
    ):
        raise ServiceError(
            code="last_admin",
            message="This is the only administrator account; make another one first.",
        )
    keys = UserAPIKey.objects.filter(user=user).count()
    sessions = sessions_end(user=user)
    user_id = user.pk
    user.delete()
    # Audited last, after the rows are gone: the chain's lock is then taken after every row lock
    # of this transaction, the order every writer keeps (see audit.services.audit_record).
    user.pk = user_id  # the deleted account is the actor of its own last event
    audit_record(
        action="accounts.user.deleted",
        request=request,
        user=user,
        target=user,
        data={"email": user.email, "api_keys": keys, "sessions_ended": sessions},
    )
