"""allauth's signup form, doing the same work for an email that has an account as for a new one.

With ACCOUNT_PREVENT_ENUMERATION, signing up with a taken email answers exactly like a new
signup (the "verify your email" page; the owner gets an "account already exists" email). A new
signup also hashes the password, which is the slow part; without the same hash here, the
answer's timing would tell which emails have an account.
"""

from __future__ import annotations

from allauth.account.forms import SignupForm as AllauthSignupForm
from django.contrib.auth.hashers import make_password


class SignupForm(AllauthSignupForm):
    def try_save(self, request):
        if self.account_already_exists:
            make_password(self.cleaned_data.get("password1") or "")
        return super().try_save(request)
