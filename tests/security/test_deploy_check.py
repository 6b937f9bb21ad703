"""`manage.py check --deploy --fail-level WARNING` is clean under the production settings, and
those settings send HTTPS-only cookies, HSTS, and plain HTTP to HTTPS (except health checks)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from django.conf import settings
from django.test import Client

PRODUCTION = {
    "DJANGO_SETTINGS_MODULE": "config.settings.production",
    "DJANGO_SECRET_KEY": "k3y-" + "Zq8vT1wLm0pR7sXb2NcY5hJ9aE6uDfGk" * 2,
    "ALLOWED_HOSTS": "timbre.example.com",
    "DATABASE_URL": "postgres://timbre:pw@127.0.0.1:5432/timbre",
}
# Variables a developer's or CI's environment may set that would change what is checked (the
# browser tests' Playwright fixture sets DJANGO_ALLOW_ASYNC_UNSAFE in this process).
UNSET = (
    "SECURE_SSL_REDIRECT",
    "SECURE_HSTS_SECONDS",
    "SECURE_HSTS_INCLUDE_SUBDOMAINS",
    "SECURE_COOKIES",
    "DJANGO_DEBUG",
    "DJANGO_ALLOW_ASYNC_UNSAFE",
    "CORS_ALLOWED_ORIGINS",
    "TIMBRE_REQUIRE_MFA_FOR_STAFF",
)


def run(args: list[str], tmp_path, **extra) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in UNSET}
    env.update(PRODUCTION, TIMBRE_DATA_DIR=str(tmp_path), **extra)
    return subprocess.run(
        [sys.executable, *args],
        env=env,
        cwd=settings.BASE_DIR,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_check_deploy_is_clean_under_production_settings(tmp_path):
    result = run(["manage.py", "check", "--deploy", "--fail-level", "WARNING"], tmp_path)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "System check identified no issues" in output, output
    assert "WARNING" not in output and "?: (security." not in output, output


def test_check_deploy_fails_when_https_is_switched_off(tmp_path):
    """The check is a real gate: the same command fails on a weaker configuration."""
    result = run(
        ["manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        tmp_path,
        SECURE_HSTS_SECONDS="0",
        SECURE_COOKIES="false",
    )
    assert result.returncode != 0
    assert "security.W004" in result.stderr and "security.W012" in result.stderr


def test_production_defaults(tmp_path):
    names = [
        "SECURE_HSTS_SECONDS",
        "SECURE_HSTS_INCLUDE_SUBDOMAINS",
        "SECURE_SSL_REDIRECT",
        "SECURE_REDIRECT_EXEMPT",
        "SESSION_COOKIE_SECURE",
        "SESSION_COOKIE_HTTPONLY",
        "CSRF_COOKIE_SECURE",
        "CSRF_COOKIE_HTTPONLY",
        "SECURE_PROXY_SSL_HEADER",
        "CORS_ALLOWED_ORIGINS",
        "TIMBRE_REQUIRE_MFA_FOR_STAFF",
    ]
    code = (
        "import json, django; django.setup(); from django.conf import settings as s; "
        f"print(json.dumps({{n: getattr(s, n) for n in {names!r}}}))"
    )
    result = run(["-c", code], tmp_path)
    assert result.returncode == 0, result.stderr
    loaded = json.loads(result.stdout)
    assert loaded["SECURE_HSTS_SECONDS"] == 31_536_000
    assert loaded["SECURE_HSTS_INCLUDE_SUBDOMAINS"] is True
    assert loaded["SECURE_SSL_REDIRECT"] is True
    assert loaded["SESSION_COOKIE_SECURE"] is loaded["CSRF_COOKIE_SECURE"] is True
    assert loaded["SESSION_COOKIE_HTTPONLY"] is loaded["CSRF_COOKIE_HTTPONLY"] is True
    assert loaded["SECURE_PROXY_SSL_HEADER"] == ["HTTP_X_FORWARDED_PROTO", "https"]
    assert loaded["CORS_ALLOWED_ORIGINS"] == []
    assert loaded["TIMBRE_REQUIRE_MFA_FOR_STAFF"] is False
    exempt = loaded["SECURE_REDIRECT_EXEMPT"]
    assert any(pattern.startswith("^health/") for pattern in exempt)

    subdomains = run(["-c", code], tmp_path, SECURE_HSTS_INCLUDE_SUBDOMAINS="false")
    assert json.loads(subdomains.stdout)["SECURE_HSTS_INCLUDE_SUBDOMAINS"] is False


@pytest.mark.django_db
def test_https_redirect_spares_the_health_checks(settings):
    """With the production HTTPS settings: HTTP goes to HTTPS, HSTS on HTTPS answers, and the
    proxy's plain-HTTP health checks are answered where they are."""
    settings.SECURE_SSL_REDIRECT = True
    settings.SECURE_REDIRECT_EXEMPT = [r"^health/", r"^metrics$", r"^static/"]
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    settings.SECURE_HSTS_SECONDS = 31_536_000
    settings.SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    client = Client()
    plain = client.get("/accounts/login/")
    assert plain.status_code == 301 and plain["Location"] == "https://testserver/accounts/login/"
    secure = client.get("/accounts/login/", HTTP_X_FORWARDED_PROTO="https")
    assert secure.status_code == 200
    assert secure["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains"
    for path in ("/health/live", "/health/ready"):
        assert client.get(path).status_code != 301, path


@pytest.mark.django_db
def test_session_and_csrf_cookies_are_secure_and_httponly(settings):
    from tests.factories import UserFactory

    settings.SESSION_COOKIE_SECURE = settings.CSRF_COOKIE_SECURE = True
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    user = UserFactory(email="cookie@example.com")
    client = Client(HTTP_X_FORWARDED_PROTO="https")
    page = client.get("/accounts/login/")
    response = client.post(
        "/accounts/login/", {"login": user.email, "password": "correct horse battery"}
    )
    assert response.status_code == 302
    for cookie in (response.cookies["sessionid"], page.cookies["csrftoken"]):
        assert cookie["secure"] is True and cookie["httponly"] is True, cookie.output()
        assert cookie["samesite"] == "Lax"
