"""Server-side checks of the layout pages: navigation, account pages, sizes, error pages."""

from __future__ import annotations

import pytest
from django.template.loader import render_to_string
from django.test import Client

from accounts import services as account_services
from accounts.templatetags.timbre_format import decimal_size, percent_of
from synthesis.models import EngineStatusRecord
from tests.factories import UserFactory
from tests.synthesis.api_helpers import job_finish, job_request, make_ready_voice

pytestmark = pytest.mark.django_db

SIGNED_IN_PAGES = [
    "/dashboard/",
    "/history/",
    "/usage/",
    "/keys/",
    "/webhooks/",
    "/profile/",
    "/security/",
    "/profile/delete/",
]


def _client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.mark.parametrize("path", SIGNED_IN_PAGES)
def test_every_page_has_the_layout(owner, path):
    response = _client(owner).get(path)
    page = response.content.decode()
    assert response.status_code == 200
    assert 'class="skip-link" href="#content"' in page
    assert 'aria-controls="site-nav"' in page and 'aria-expanded="false"' in page
    assert "data-theme-toggle" in page
    for href in ("/usage/", "/webhooks/", "/keys/", "/history/", "/profile/"):
        assert f'href="{href}"' in page
    assert "style=" not in page
    assert 'href="/admin/"' not in page  # staff only


def test_staff_see_the_admin_link(owner):
    owner.is_staff = True
    owner.save()
    assert 'href="/admin/"' in _client(owner).get("/dashboard/").content.decode()


@pytest.mark.parametrize(
    ("num_bytes", "text"),
    [
        (0, "0 bytes"),
        (1, "1 byte"),
        (999, "999 bytes"),
        (1_500, "1.5 kB"),
        (1_024_000_000, "1,024 MB"),
        (2_500_000, "2.5 MB"),
        ("x", "0 bytes"),
    ],
)
def test_sizes_use_the_unit_limits_are_configured_in(num_bytes, text):
    assert decimal_size(num_bytes) == text


def test_percent_of_is_clamped():
    assert percent_of(50, 200) == 25
    assert percent_of(500, 200) == 100
    assert percent_of(5, 0) == 0 and percent_of(None, 10) == 0


def test_storage_limit_is_shown_in_megabytes_not_mebibytes(owner):
    page = _client(owner).get("/history/").content.decode()
    assert "of 1,024 MB" in page and "976.6" not in page


def _engine_down():
    EngineStatusRecord.objects.create(
        hostname="w1",
        engine="xtts",
        ready=False,
        reason="No XTTS model directory is set.",
        fix="Set XTTS_MODEL_DIR to a directory holding config.json, model.pth and vocab.json.",
    )


def test_operator_detail_goes_to_staff_only(owner):
    _engine_down()
    page = _client(owner).get("/dashboard/").content.decode()
    assert "Voice cloning is not available on this server yet." in page
    assert "XTTS_MODEL_DIR" not in page and "No XTTS model directory" not in page
    staff = UserFactory(is_staff=True)
    page = _client(staff).get("/dashboard/").content.decode()
    assert "No XTTS model directory is set." in page and "XTTS_MODEL_DIR" in page


def test_dashboard_shows_usage_recent_jobs_and_plan(owner):
    voice = make_ready_voice(owner, "Narrator")
    jobs = [job_finish(job_request(owner, voice, f"Line number {i}.")) for i in range(6)]
    page = _client(owner).get("/dashboard/").content.decode()
    assert 'data-testid="usage-meter"' in page and "<progress" in page
    assert 'data-testid="plan"' in page
    linked = [job for job in jobs if f"/jobs/{job.code}/" in page]
    assert linked == jobs[1:]  # the five newest


def test_history_rows_regenerate_confirm_and_language_names(owner):
    voice = make_ready_voice(owner, "Narrator")
    job = job_finish(job_request(owner, voice, "Bonjour.", language="fr"))
    page = _client(owner).get("/history/").content.decode()
    assert f'href="/speak/?from={job.code}"' in page
    assert 'table class="responsive"' in page and 'data-label="Language">French<' in page
    assert f'action="/history/{job.code}/delete/"' in page
    assert "data-confirm=" in page.split(f'action="/history/{job.code}/delete/"')[1][:200]


def test_keys_page_shows_the_secret_once_with_copy_scopes_caps_and_confirm(owner):
    client = _client(owner)
    response = client.post(
        "/keys/", {"name": "laptop", "scopes": ["tts"], "monthly_character_cap": "5000"}
    )
    page = response.content.decode()
    assert 'data-testid="new-key-secret"' in page and "data-copy-target" in page
    assert "/static/js/copy.js" in page
    assert ">tts<" in page and "5000 chars" in page
    assert "Revoke the key" in page  # data-confirm on the revoke form
    assert 'data-testid="new-key-secret"' not in client.get("/keys/").content.decode()


def test_account_delete_asks_for_confirmation(owner):
    page = _client(owner).get("/profile/delete/").content.decode()
    assert 'data-testid="account-delete-form"' in page
    form = page.split('data-testid="account-delete-form"')[1][:200]
    assert "data-confirm=" in form


def test_security_page_keeps_its_link_and_badges(owner):
    account_services.api_key_create(user=owner, name="ci", scopes=["tts"])
    page = _client(owner).get("/security/").content.decode()
    assert 'href="/security/"' in page and '<span class="badge ok">active</span>' in page


def test_404_is_product_styled(owner):
    response = _client(owner).get("/no-such-page/")
    page = response.content.decode()
    assert response.status_code == 404
    assert 'class="brand"' in page and 'data-testid="not-found"' in page
    assert 'href="/dashboard/"' in page  # the signed-in nav


def test_500_page_renders_without_request_or_database(django_assert_num_queries):
    with django_assert_num_queries(0):
        page = render_to_string("500.html")
    assert "timbre.css" in page and 'class="brand"' in page and "{%" not in page


@pytest.mark.parametrize(
    "path", ["/accounts/login/", "/accounts/signup/", "/accounts/password/reset/"]
)
def test_allauth_entrance_pages_are_a_centred_card(client, path):
    page = client.get(path).content.decode()
    assert 'class="auth-card"' in page and 'class="brand"' in page
    assert "Menu:" not in page  # allauth's bare default layout is replaced


@pytest.mark.parametrize(
    "path", ["/accounts/password/change/", "/accounts/email/", "/accounts/2fa/"]
)
def test_allauth_manage_pages_use_the_product_layout(owner, path):
    response = _client(owner).get(path)
    page = response.content.decode()
    assert response.status_code == 200
    assert 'class="manage-card"' in page and 'href="/usage/"' in page and "Menu:" not in page


def test_allauth_confirm_email_and_logout_pages_are_cards(owner, client):
    page = client.get("/accounts/confirm-email/not-a-key/").content.decode()
    assert 'class="auth-card"' in page
    page = _client(owner).get("/accounts/logout/").content.decode()
    assert 'class="manage-card"' in page and "Menu:" not in page
