from allauth.account.adapter import DefaultAccountAdapter
from django.conf import settings
from django.contrib import messages


class AccountAdapter(DefaultAccountAdapter):
    def is_open_for_signup(self, request):
        return settings.ACCOUNT_ALLOW_SIGNUP

    def respond_user_inactive(self, request, user):
        # A suspended user (accounts.moderation) is told so, and why, on the inactive page.
        if getattr(user, "suspended_at", None) is not None:
            reason = user.suspension_reason or "no reason was given"
            messages.error(request, f"This account is suspended: {reason}")
        return super().respond_user_inactive(request, user)
