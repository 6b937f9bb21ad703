"""No user enumeration: signup, login and password reset answer a known and an unknown email the
same way (status, redirect, page), and password reset requests are throttled per client IP and
per email address. (Timing is measured by hand, not asserted: see the report of issue 11.)"""

from __future__ import annotations

import re

import pytest
from django.core import mail
from django.test import Client

from accounts.models import User
from tests.factories import UserFactory
from tests.synthesis.api_helpers import random_ip

pytestmark = pytest.mark.django_db

KNOWN = "known@example.com"
UNKNOWN = "unknown@example.com"
CSRF = re.compile(r'name="csrfmiddlewaretoken" value="[^"]+"')


@pytest.fixture(autouse=True)
def setup(settings, request):
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
            "LOCATION": f"enum-{request.node.name}",
        }
    }
    UserFactory(email=KNOWN)


def normalised(response, email: str) -> str:
    return CSRF.sub("csrf", response.content.decode()).replace(email, "EMAIL")


def answer(client: Client, path: str, data: dict, email: str) -> tuple:
    """What a visitor sees: the status, the redirect, and the page it leads to."""
    response = client.post(path, data, REMOTE_ADDR=random_ip())
    if response.status_code == 302:
        page = client.get(response["Location"])
        return 302, response["Location"], page.status_code, normalised(page, email)
    return response.status_code, "", "", normalised(response, email)


def test_password_reset_answers_the_same_for_a_known_and_an_unknown_email():
    answers = []
    for email in (KNOWN, UNKNOWN):
        mail.outbox.clear()
        answers.append(answer(Client(), "/accounts/password/reset/", {"email": email}, email))
        assert len(mail.outbox) == 1 and mail.outbox[0].to == [email]  # each gets one email
    assert answers[0] == answers[1]
    assert answers[0][:3] == (302, "/accounts/password/reset/done/", 200)


def test_signup_answers_the_same_for_a_taken_and_a_new_email():
    answers = []
    for email in (KNOWN, UNKNOWN):
        data = {
            "email": email,
            "password1": "a-Long-pass-phrase-42",
            "password2": "a-Long-pass-phrase-42",
        }
        answers.append(answer(Client(), "/accounts/signup/", data, email))
    assert answers[0] == answers[1]
    assert answers[0][:3] == (302, "/accounts/confirm-email/", 200)
    assert User.objects.filter(email=UNKNOWN).exists()
    assert User.objects.filter(email=KNOWN).count() == 1


def test_a_signup_with_a_taken_email_hashes_the_password_too(monkeypatch):
    """The slow part of a new signup (the password hash) happens for a taken email as well."""
    from django.contrib.auth.hashers import get_hasher

    hasher = type(get_hasher())  # the test settings' (fast) hasher: the count is what matters
    real, hashed = hasher.encode, []

    def encode(self, password, salt, *args, **kwargs):
        hashed.append(password)
        return real(self, password, salt, *args, **kwargs)

    monkeypatch.setattr(hasher, "encode", encode)
    password = "a-Long-pass-phrase-42"
    for email in (KNOWN, UNKNOWN):
        hashed.clear()
        data = {"email": email, "password1": password, "password2": password}
        Client().post("/accounts/signup/", data, REMOTE_ADDR=random_ip())
        assert hashed.count(password) == 1, (email, hashed)


def test_login_answers_the_same_for_a_wrong_password_and_an_unknown_email():
    answers = [
        answer(Client(), "/accounts/login/", {"login": email, "password": "wrong-password"}, email)
        for email in (KNOWN, UNKNOWN)
    ]
    assert answers[0] == answers[1]
    assert answers[0][0] == 200
    assert "not correct" in answers[0][3]


def test_password_reset_is_limited_per_client_ip(settings):
    settings.RATE_LIMIT_PASSWORD_RESET = "2/m"
    ip = random_ip()
    client = Client()
    for n in range(2):
        response = client.post(
            "/accounts/password/reset/", {"email": f"a{n}@example.com"}, REMOTE_ADDR=ip
        )
        assert response.status_code == 302
    response = client.post("/accounts/password/reset/", {"email": "a9@example.com"}, REMOTE_ADDR=ip)
    assert response.status_code == 429
    assert int(response["Retry-After"]) >= 1
    assert "password reset" in response.json()["error"]["message"]
    other = client.post(
        "/accounts/password/reset/", {"email": "a9@example.com"}, REMOTE_ADDR=random_ip()
    )
    assert other.status_code == 302


@pytest.mark.parametrize("email", [KNOWN, UNKNOWN])
def test_password_reset_is_limited_per_email_from_any_address(settings, email):
    settings.RATE_LIMIT_PASSWORD_RESET_EMAIL = "2/h"
    client = Client()
    for _ in range(2):
        response = client.post(
            "/accounts/password/reset/", {"email": email}, REMOTE_ADDR=random_ip()
        )
        assert response.status_code == 302
    mail.outbox.clear()
    response = client.post(
        "/accounts/password/reset/",
        {"email": email.upper()},
        REMOTE_ADDR=random_ip(),
        HTTP_ACCEPT="text/html",
    )
    assert response.status_code == 429 and b"Too many password reset attempts" in response.content
    assert mail.outbox == []  # no email sent past the limit
    other = client.post(
        "/accounts/password/reset/", {"email": "x" + email}, REMOTE_ADDR=random_ip()
    )
    assert other.status_code == 302


def test_two_factor_codes_count_against_the_login_limit(settings):
    settings.RATE_LIMIT_LOGIN = "2/m"
    ip = random_ip()
    client = Client()
    for _ in range(2):
        assert (
            client.post("/accounts/2fa/authenticate/", {"code": "1"}, REMOTE_ADDR=ip).status_code
            != 429
        )
    assert (
        client.post("/accounts/2fa/authenticate/", {"code": "1"}, REMOTE_ADDR=ip).status_code == 429
    )
