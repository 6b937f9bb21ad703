"""Auth events from Django and allauth, recorded in the audit log.

Receivers stay thin: they only hand over to the audit service.
"""

from allauth.account.signals import password_changed, password_reset, user_signed_up
from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.dispatch import receiver

from accounts import services
from audit.services import audit_record


@receiver(user_signed_up)
def on_signed_up(sender, request, user, **kwargs):
    services.user_signed_up(user=user, request=request)


@receiver(user_logged_in)
def on_logged_in(sender, request, user, **kwargs):
    audit_record(action="accounts.user.logged_in", request=request, user=user, target=user)


@receiver(user_logged_out)
def on_logged_out(sender, request, user, **kwargs):
    if user is not None:
        audit_record(action="accounts.user.logged_out", request=request, user=user, target=user)


@receiver(user_login_failed)
def on_login_failed(sender, credentials, request=None, **kwargs):
    # Never store the password; the email tried is what an admin needs to spot an attack.
    tried = str(credentials.get("email") or credentials.get("username") or "")[:254]
    audit_record(action="accounts.user.login_failed", request=request, data={"email": tried})


@receiver(password_changed)
def on_password_changed(sender, request, user, **kwargs):
    audit_record(action="accounts.user.password_changed", request=request, user=user, target=user)


@receiver(password_reset)
def on_password_reset(sender, request, user, **kwargs):
    audit_record(action="accounts.user.password_reset", request=request, user=user, target=user)
