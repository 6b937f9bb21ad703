"""Security headers on representative pages: CSP without inline code, Permissions-Policy with the
microphone only where audio is recorded, no framing, nosniff, a referrer policy."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.conf import settings
from django.test import Client

from tests.factories import UserFactory
from tests.synthesis.api_helpers import job_finish, job_request, make_ready_voice
from tests.voices.helpers import make_sample

pytestmark = pytest.mark.django_db

APPS = ("accounts", "audit", "voices", "synthesis")
RECORDING_PAGES = ("/voices/new/", "/voices/samples/record/")


def csp(response) -> dict[str, list[str]]:
    header = response["Content-Security-Policy"]
    return {
        name: values
        for name, *values in (part.split() for part in header.split(";") if part.strip())
    }


@pytest.fixture
def signed_in(owner):
    client = Client()
    client.force_login(owner)
    return client


def test_signed_in_pages_send_a_strict_policy(owner, signed_in):
    voice = make_ready_voice(owner, "Narrator")
    job = job_finish(job_request(owner, voice))
    sample = make_sample(owner, name="take.wav")
    pages = [
        "/dashboard/",
        "/speak/",
        "/history/",
        "/webhooks/",
        "/keys/",
        "/profile/",
        "/voices/",
        f"/voices/{voice.code}/",
        "/voices/samples/",
        f"/voices/samples/{sample.code}/",
        f"/jobs/{job.code}/",
        "/accounts/password/change/",
        "/accounts/2fa/",
        *RECORDING_PAGES,
    ]
    for path in pages:
        response = signed_in.get(path)
        assert response.status_code == 200, path
        policy = csp(response)
        for directive in ("script-src", "style-src", "default-src", "base-uri", "form-action"):
            assert policy[directive] == ["'self'"], (path, directive, policy[directive])
        assert policy["object-src"] == ["'none'"]
        assert policy["frame-ancestors"] == ["'none'"]
        assert "'unsafe-inline'" not in response["Content-Security-Policy"]
        assert "'unsafe-eval'" not in response["Content-Security-Policy"]
        assert response["X-Frame-Options"] == "DENY"
        assert response["X-Content-Type-Options"] == "nosniff"
        assert response["Referrer-Policy"] == "strict-origin-when-cross-origin"
        records = path in RECORDING_PAGES or path == f"/voices/{voice.code}/"
        microphone = "microphone=(self)" if records else "microphone=()"
        features = response["Permissions-Policy"].split(", ")
        assert microphone in features, (path, features)
        assert {"camera=()", "geolocation=()", "payment=()", "usb=()"} <= set(features)


def test_public_pages_api_and_errors_carry_the_headers(client):
    for path, status in (("/", 200), ("/accounts/login/", 200), ("/no-such-page/", 404)):
        response = client.get(path)
        assert response.status_code == status
        assert csp(response)["script-src"] == ["'self'"]
        assert response["Permissions-Policy"].endswith("usb=()")
        assert "microphone=()" in response["Permissions-Policy"]
    api = client.get("/api/v1/voices")
    assert api.status_code in (401, 403)
    assert api["X-Content-Type-Options"] == "nosniff"
    assert csp(api)["frame-ancestors"] == ["'none'"]


def test_api_docs_pages_load_only_our_own_scripts(client):
    """Swagger UI and Redoc come from our static files: scripts only from 'self', no inline
    script, no CDN anywhere; only their script-set styles are relaxed, on those two pages."""
    for path in ("/api/docs/", "/api/redoc/"):
        response = client.get(path)
        assert response.status_code == 200
        policy = csp(response)
        assert policy["script-src"] == ["'self'"]
        assert "'unsafe-inline'" in policy["style-src"]
        assert policy["frame-ancestors"] == ["'none'"]
        assert policy["object-src"] == ["'none'"]
        page = response.content.decode()
        assert "https://" not in page, "the docs page names an outside address"
        assert "<script>" not in page, "an inline script would be refused by the CSP"
    assert "'unsafe-inline'" not in csp(client.get("/"))["style-src"]


def test_admin_pages_keep_the_strict_policy(db):
    admin = UserFactory(email="admin@example.com", is_staff=True, is_superuser=True)
    client = Client()
    client.force_login(admin)
    for path in ("/admin/", "/admin/accounts/user/", f"/admin/accounts/user/{admin.pk}/change/"):
        response = client.get(path)
        assert response.status_code == 200, path
        assert csp(response)["script-src"] == ["'self'"]


INLINE = [
    (re.compile(r"<script(?![^>]*\bsrc=)(?![^>]*type=\"application/json\")[^>]*>", re.I), "script"),
    (re.compile(r"<style[\s>]", re.I), "<style>"),
    (re.compile(r"\sstyle=", re.I), "style attribute"),
    (re.compile(r"\son[a-z]+\s*=", re.I), "event handler attribute"),
    (re.compile(r"javascript:", re.I), "javascript: URL"),
]


def test_templates_have_no_inline_scripts_styles_or_handlers():
    found = []
    base = Path(settings.BASE_DIR)
    folders = [base / "templates", *(base / app / "templates" for app in APPS)]
    templates = sorted(path for folder in folders for path in folder.rglob("*.html"))
    assert len(templates) > 20
    for path in templates:
        text = path.read_text()
        for pattern, what in INLINE:
            found += [f"{path.name}: {what}: {m.group(0)!r}" for m in pattern.finditer(text)]
    assert not found, found


def test_rate_limit_page_has_no_inline_style(client, settings):
    settings.RATE_LIMIT_LOGIN = "1/m"
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    data = {"login": "nobody@example.com", "password": "wrong"}
    client.post("/accounts/login/", data, REMOTE_ADDR="198.51.100.201")
    response = client.post(
        "/accounts/login/", data, REMOTE_ADDR="198.51.100.201", HTTP_ACCEPT="text/html"
    )
    assert response.status_code == 429
    assert b"style=" not in response.content and b"<style" not in response.content
    assert csp(response)["style-src"] == ["'self'"]
