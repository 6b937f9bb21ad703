"""Optional two-factor authentication (allauth.mfa): enrol an authenticator app from the profile,
then sign in with a code computed here (RFC 6238), or a recovery code; staff may be required to
have it before the admin; the admin's own login form cannot skip it."""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import struct
import time

import pytest
from allauth.mfa.models import Authenticator
from django.test import Client

from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

PASSWORD = "correct horse battery"  # tests.factories.UserFactory


@pytest.fixture(autouse=True)
def fresh_cache(settings, request):
    """allauth remembers used codes in the cache (per user id): a fresh one for every test."""
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
            "LOCATION": f"mfa-{request.node.name}",
        }
    }
    settings.MFA_TOTP_TOLERANCE = 1  # login uses the next period's code: never a reused one


def totp(secret: str, *, step: int = 0, period: int = 30, digits: int = 6) -> str:
    """RFC 6238 TOTP (HMAC-SHA1), written out here rather than borrowed from allauth."""
    key = base64.b32decode(secret, casefold=True)
    counter = struct.pack(">Q", int(time.time()) // period + step)
    digest = hmac.new(key, counter, hashlib.sha1).digest()
    offset = digest[-1] & 0x0F
    value = struct.unpack(">I", digest[offset : offset + 4])[0] & 0x7FFFFFFF
    return f"{value % 10**digits:0{digits}d}"


def test_totp_matches_rfc_6238_test_vector(monkeypatch):
    monkeypatch.setattr(time, "time", lambda: 59)
    secret = base64.b32encode(b"12345678901234567890").decode()
    assert totp(secret, digits=8) == "94287082"


def sign_in(client: Client, email: str) -> object:
    return client.post("/accounts/login/", {"login": email, "password": PASSWORD})


def enrol(client: Client) -> tuple[str, list[str]]:
    """From the profile page to an active authenticator; returns the secret and recovery codes."""
    profile = client.get("/profile/").content.decode()
    assert 'href="/accounts/2fa/"' in profile
    index = client.get("/accounts/2fa/")
    assert index.status_code == 200
    page = client.get("/accounts/2fa/totp/activate/")
    # allauth asks for the password again before a security change.
    assert page.status_code == 302 and page["Location"].startswith("/accounts/reauthenticate/")
    again = client.post(page["Location"], {"password": PASSWORD})
    assert again.status_code == 302 and again["Location"] == "/accounts/2fa/totp/activate/"
    page = client.get("/accounts/2fa/totp/activate/")
    assert page.status_code == 200
    html = page.content.decode()
    assert 'src="data:image/svg+xml;base64,' in html  # the QR code, allowed by img-src data:
    secret = re.search(r'id="authenticator_secret"[^>]*value="([A-Z2-7=]+)"', html)
    secret = secret or re.search(r'value="([A-Z2-7=]{32})"', html)
    secret = secret.group(1)
    assert client.post("/accounts/2fa/totp/activate/", {"code": "000000"}).status_code == 200
    done = client.post("/accounts/2fa/totp/activate/", {"code": totp(secret)})
    assert done.status_code == 302, done.content.decode()[:2000]
    codes_page = client.get(done["Location"]).content.decode()
    codes = re.findall(r"\b\d{8}\b", codes_page)
    assert len(set(codes)) >= 10, codes_page
    return secret, sorted(set(codes))


def test_enrol_then_sign_in_with_an_authenticator_code(owner):
    client = Client()
    assert sign_in(client, owner.email)["Location"] == "/dashboard/"
    secret, _ = enrol(client)
    assert Authenticator.objects.filter(user=owner, type=Authenticator.Type.TOTP).exists()
    profile = client.get("/profile/").content.decode()
    assert re.search(r'Two-factor authentication</a>:\s*<span class="badge ok">on</span>', profile)
    client.post("/accounts/logout/")

    client = Client()
    response = sign_in(client, owner.email)
    assert response.status_code == 302 and response["Location"] == "/accounts/2fa/authenticate/"
    assert client.get("/dashboard/").status_code == 302  # the password alone is not a login
    wrong = client.post("/accounts/2fa/authenticate/", {"code": "123456"})
    assert wrong.status_code == 200 and b"Incorrect code" in wrong.content
    response = client.post("/accounts/2fa/authenticate/", {"code": totp(secret, step=1)})
    assert response.status_code == 302 and response["Location"] == "/dashboard/"
    assert client.get("/dashboard/").status_code == 200


def test_a_recovery_code_signs_in_once(owner):
    client = Client()
    sign_in(client, owner.email)
    _, codes = enrol(client)
    for attempt, expected in ((1, 302), (2, 200)):
        client = Client()
        assert sign_in(client, owner.email)["Location"] == "/accounts/2fa/authenticate/"
        response = client.post("/accounts/2fa/authenticate/", {"code": codes[0]})
        assert response.status_code == expected, attempt
    assert client.get("/dashboard/").status_code == 302  # the used code did not sign in


def test_staff_without_an_authenticator_are_sent_to_set_one_up(settings):
    settings.TIMBRE_REQUIRE_MFA_FOR_STAFF = True
    staff = UserFactory(email="staff@example.com", is_staff=True, is_superuser=True)
    member = UserFactory(email="member@example.com")
    client = Client()
    sign_in(client, staff.email)
    for path in ("/admin/", "/admin/accounts/user/"):
        response = client.get(path)
        assert (
            response.status_code == 302 and response["Location"] == "/accounts/2fa/totp/activate/"
        )
    assert client.get("/dashboard/").status_code == 200  # only the admin is gated
    enrol(client)
    assert client.get("/admin/").status_code == 200

    other = Client()
    sign_in(other, member.email)
    response = other.get("/admin/")  # not staff: no admin, and no MFA detour either
    assert response.status_code == 302 and response["Location"].startswith("/admin/login/")
    assert other.get(response["Location"]).status_code == 403


def test_staff_reach_the_admin_without_an_authenticator_by_default(settings):
    assert settings.TIMBRE_REQUIRE_MFA_FOR_STAFF is False
    staff = UserFactory(email="staff@example.com", is_staff=True)
    client = Client()
    sign_in(client, staff.email)
    assert client.get("/admin/").status_code == 200


def test_the_admin_login_form_cannot_skip_the_second_factor():
    staff = UserFactory(email="staff@example.com", is_staff=True, is_superuser=True)
    client = Client()
    response = client.get("/admin/login/?next=/admin/")
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")
    posted = client.post("/admin/login/", {"username": staff.email, "password": PASSWORD})
    assert posted.status_code == 302 and posted["Location"].startswith("/accounts/login/")
    assert client.get("/admin/").status_code == 302  # still not signed in
