"""Auth events from Django and allauth, recorded in the audit log.

Receivers stay thin: they only hand over to the audit service.
"""

from allauth.account.signals import password_changed, password_reset, user_signed_up
from django.apps import apps
from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.db.models.signals import pre_delete
from django.dispatch import receiver

from accounts import services
from accounts.models import User
from audit.services import audit_record


@receiver(user_signed_up)
def on_signed_up(sender, request, user, **kwargs):
    services.user_signed_up(user=user, request=request)


@receiver(pre_delete, sender=User)
def on_user_deleting(sender, instance, **kwargs):
    # However a user is deleted, the apps above delete their stored files (on commit).
    services.user_deleting.send(sender=User, user=instance)


@receiver(user_logged_in)
def on_logged_in(sender, request, user, **kwargs):
    audit_record(action="accounts.user.logged_in", request=request, user=user, target=user)


@receiver(user_logged_out)
def on_logged_out(sender, request, user, **kwargs):
    if user is not None:
        audit_record(action="accounts.user.logged_out", request=request, user=user, target=user)


@receiver(user_login_failed)
def on_login_failed(sender, credentials, request=None, **kwargs):
    # Never store the password; the email tried is what an admin needs to spot an attack. When
    # it names an account, the event targets it, so its owner sees the attempt on /security/.
    tried = str(credentials.get("email") or credentials.get("username") or "")[:254]
    account = User.objects.filter(email__iexact=tried).first() if tried else None
    audit_record(
        action="accounts.user.login_failed",
        request=request,
        target=account,
        data={"email": tried},
    )


@receiver(password_changed)
def on_password_changed(sender, request, user, **kwargs):
    audit_record(action="accounts.user.password_changed", request=request, user=user, target=user)


@receiver(password_reset)
def on_password_reset(sender, request, user, **kwargs):
    audit_record(action="accounts.user.password_reset", request=request, user=user, target=user)


# --- two-factor authentication (allauth.mfa) ----------------------------------------------------
MFA_ACTIONS = {
    "added": "accounts.mfa.added",
    "removed": "accounts.mfa.removed",
    "reset": "accounts.mfa.reset",  # e.g. new recovery codes
}


# Recovery codes come and go with the authenticator they back up (allauth adds them with the
# first one and removes them with the last): that authenticator's own event stands for both.
COMPANION_TYPES = {"recovery_codes"}


def mfa_record(change: str, *, request, user, authenticator) -> None:
    kind = str(getattr(authenticator, "type", "") or "")
    if change in ("added", "removed") and kind in COMPANION_TYPES:
        return
    audit_record(
        action=MFA_ACTIONS[change],
        request=request,
        user=user,
        target=user,
        data={"type": kind},
    )


def on_authenticator_added(sender, request, user, authenticator, **kwargs):
    mfa_record("added", request=request, user=user, authenticator=authenticator)


def on_authenticator_removed(sender, request, user, authenticator, **kwargs):
    mfa_record("removed", request=request, user=user, authenticator=authenticator)


def on_authenticator_reset(sender, request, user, authenticator, **kwargs):
    mfa_record("reset", request=request, user=user, authenticator=authenticator)


def connect_mfa() -> None:
    """Connect the MFA receivers when allauth's MFA app is installed."""
    if not apps.is_installed("allauth.mfa"):
        return
    from allauth.mfa import signals as mfa_signals

    mfa_signals.authenticator_added.connect(on_authenticator_added, dispatch_uid="audit_mfa_add")
    mfa_signals.authenticator_removed.connect(
        on_authenticator_removed, dispatch_uid="audit_mfa_remove"
    )
    mfa_signals.authenticator_reset.connect(on_authenticator_reset, dispatch_uid="audit_mfa_reset")


connect_mfa()
