"""Rate limits: signup and login per client IP, the API per user and per key.

Every test uses a fresh client address or a fresh user, so counts left in the cache by earlier
runs never decide an outcome.
"""

from __future__ import annotations

import pytest
from django.urls import reverse
from rest_framework.test import APIClient

from accounts.services import api_key_create
from tests.synthesis.api_helpers import random_ip, session_client

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def counting_cache(settings):
    """Redis when the run has it; else a fresh in-memory cache instead of the test run's file
    cache, which drops random entries (live counters too) once it holds 300."""
    if settings.CACHES["default"]["BACKEND"].endswith("FileBasedCache"):
        settings.CACHES = {
            "default": {
                "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
                "LOCATION": "rate-limit-tests",
            }
        }
    yield
    from django.core.cache import cache

    if settings.CACHES["default"]["BACKEND"].endswith("LocMemCache"):
        cache.clear()


@pytest.fixture
def tight(settings):
    settings.RATE_LIMIT_LOGIN = "3/m"
    settings.RATE_LIMIT_SIGNUP = "2/m"
    settings.RATELIMIT_ENABLE = True
    return settings


def login(client, **meta):
    return client.post(
        reverse("account_login"), {"login": "nobody@example.com", "password": "wrong"}, **meta
    )


def assert_limited(response):
    assert response.status_code == 429
    assert int(response["Retry-After"]) >= 1
    error = response.json()["error"]
    assert error["code"] == "rate_limited"
    assert "Too many login attempts" in error["message"] or "signup" in error["message"]
    assert error["details"]["retry_after"] == int(response["Retry-After"])


def test_login_is_limited_per_ip(client, tight):
    ip = random_ip()
    for _ in range(3):
        assert login(client, REMOTE_ADDR=ip).status_code != 429
    assert_limited(login(client, REMOTE_ADDR=ip))
    assert login(client, REMOTE_ADDR=random_ip()).status_code != 429  # someone else is fine
    assert client.get(reverse("account_login"), REMOTE_ADDR=ip).status_code == 200  # GET free


def test_signup_is_limited_per_ip(client, tight):
    ip = random_ip()
    url = reverse("account_signup")
    for n in range(2):
        data = {"email": f"rl{n}@example.com", "password1": "x", "password2": "y"}
        assert client.post(url, data, REMOTE_ADDR=ip).status_code != 429
    response = client.post(url, {"email": "rl9@example.com"}, REMOTE_ADDR=ip)
    assert response.status_code == 429
    assert "signup" in response.json()["error"]["message"]


def test_browsers_get_a_page(client, tight):
    ip = random_ip()
    for _ in range(3):
        login(client, REMOTE_ADDR=ip)
    response = login(client, REMOTE_ADDR=ip, HTTP_ACCEPT="text/html,application/xhtml+xml")
    assert response.status_code == 429
    assert response["Retry-After"]
    assert b"Too many attempts" in response.content


def test_forged_x_forwarded_for_does_not_change_the_bucket(client, tight):
    """Behind one proxy, only the address that proxy appended counts."""
    tight.NUM_PROXIES = 1
    proxy, real = "192.0.2.10", random_ip()
    for n in range(3):
        forged = f"203.0.113.{n}, {real}"  # the client made up the first entry
        login(client, REMOTE_ADDR=proxy, HTTP_X_FORWARDED_FOR=forged)
    assert_limited(login(client, REMOTE_ADDR=proxy, HTTP_X_FORWARDED_FOR=f"198.51.100.77, {real}"))
    other_client = random_ip()
    assert login(client, REMOTE_ADDR=proxy, HTTP_X_FORWARDED_FOR=other_client).status_code != 429


def test_x_forwarded_for_is_ignored_without_declared_proxies(client, tight):
    tight.NUM_PROXIES = 0
    ip = random_ip()
    for n in range(3):
        login(client, REMOTE_ADDR=ip, HTTP_X_FORWARDED_FOR=f"203.0.113.{n}")
    assert_limited(login(client, REMOTE_ADDR=ip, HTTP_X_FORWARDED_FOR=random_ip()))


# --- API -----------------------------------------------------------------------------------------
def test_api_requests_per_user_get_429_with_retry_after(owner, settings):
    settings.RATE_LIMIT_API = "3/m"
    client = session_client(owner)
    answers = [client.get("/api/v1/synthesis") for _ in range(3)]
    assert [a.status_code for a in answers] == [200, 200, 200]
    assert [a["x-ratelimit-remaining"] for a in answers] == ["2", "1", "0"]
    assert answers[0]["x-ratelimit-limit"] == "3"
    assert 0 <= int(answers[0]["x-ratelimit-reset"]) <= 60
    response = client.get("/api/v1/usage")  # one budget for every endpoint
    assert response.status_code == 429
    assert 1 <= int(response["Retry-After"]) <= 60
    error = response.json()["error"]
    assert error["code"] == "rate_limited" and "Retry in" in error["message"]


def test_api_key_limit_is_apart_from_the_users(owner, settings):
    settings.RATE_LIMIT_API = "100/m"
    settings.RATE_LIMIT_API_KEY = "2/m"
    _, secret = api_key_create(user=owner, name="k", scopes=["all"])
    keyed = APIClient()
    keyed.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
    assert [keyed.get("/api/v1/me").status_code for _ in range(2)] == [200, 200]
    limited = keyed.get("/api/v1/me")
    assert limited.status_code == 429 and limited["Retry-After"]
    assert session_client(owner).get("/api/v1/me").status_code == 200  # the user is not

    _, other_secret = api_key_create(user=owner, name="k2", scopes=["all"])
    other = APIClient()
    other.credentials(HTTP_AUTHORIZATION=f"Bearer {other_secret}")
    assert other.get("/api/v1/me").status_code == 200  # nor the user's other keys


def test_rate_limits_can_be_switched_off(owner, settings):
    settings.RATE_LIMIT_API = "1/m"
    settings.RATELIMIT_ENABLE = False
    client = session_client(owner)
    assert [client.get("/api/v1/me").status_code for _ in range(3)] == [200] * 3
