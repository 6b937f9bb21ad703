"""A user's Security page, and deleting one's own account."""

from __future__ import annotations

import pytest
from django.core.files.storage import default_storage
from django.test import Client

from accounts import services as account_services
from accounts.models import User, UserAPIKey
from audit.models import AuditEvent
from audit.verify import audit_chain_verify
from synthesis.models import SynthesisJob
from tests.factories import UserFactory
from tests.synthesis.api_helpers import job_finish, job_request
from tests.voices.helpers import make_ready_voice, make_sample
from voices.models import Sample, Voice

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def fresh_cache(settings, request):
    """Rate limits (allauth's per account, ours per address) count in the cache: each test
    starts from a fresh one, whatever ran before."""
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
            "LOCATION": f"audit-{request.node.name}",
        }
    }


PASSWORD = "correct horse battery"  # tests.factories.UserFactory


def _sign_in(user, address="198.51.100.7", agent="Firefox/140 test") -> Client:
    client = Client(REMOTE_ADDR=address, HTTP_USER_AGENT=agent)
    response = client.post("/accounts/login/", {"login": user.email, "password": PASSWORD})
    assert response.status_code == 302
    return client


# --- Security page ------------------------------------------------------------------------------
def test_security_page_lists_the_users_own_account_events(owner, stranger):
    Client(REMOTE_ADDR="203.0.113.66").post(
        "/accounts/login/", {"login": owner.email, "password": "guess"}
    )
    client = _sign_in(owner)
    key, _ = account_services.api_key_create(user=owner, name="build-server", scopes=["tts"])
    UserAPIKey.objects.filter(pk=key.pk).update(last_used_at="2026-11-02T10:20:00Z")
    account_services.api_key_revoke(user=owner, key=key)
    _sign_in(stranger, address="192.0.2.99", agent="Stranger-Agent")

    response = client.get("/security/")
    assert response.status_code == 200
    page = response.content.decode()
    actions = [e.action for e in response.context["page"].object_list]
    assert actions[:4] == [
        "accounts.api_key.revoked",
        "accounts.api_key.created",
        "accounts.user.logged_in",
        "accounts.user.login_failed",
    ]
    assert "198.51.100.7" in page and "Firefox/140 test" in page  # the sign-in: where, what
    assert "203.0.113.66" in page  # somebody's failed attempt at this account
    assert "192.0.2.99" not in page and "Stranger-Agent" not in page  # nobody else's
    assert "build-server" in page and key.prefix in page and "2026-11-02 10:20" in page
    assert 'href="/security/"' in page  # in the navigation


def test_security_page_is_paginated_and_private(owner):
    client = _sign_in(owner)
    for _ in range(30):
        account_services.user_profile_update(user=owner, display_name="x")
    first = client.get("/security/")
    assert len(first.context["page"].object_list) == 25
    second = client.get("/security/", {"page": 2})
    assert second.status_code == 200 and len(second.context["page"].object_list) == 6
    assert client.get("/security/", {"page": "nonsense"}).status_code == 200
    anonymous = Client().get("/security/")
    assert anonymous.status_code == 302 and anonymous["Location"].startswith("/accounts/login/")


# --- Deleting an account ------------------------------------------------------------------------
@pytest.fixture
def belongings(owner):
    voice = make_ready_voice(owner, "Mine")
    loose = make_sample(owner)
    job = job_finish(job_request(owner, voice))
    account_services.api_key_create(user=owner, name="k", scopes=["all"])
    files = [voice.conditioning.name, loose.raw.name, loose.clean.name, job.audio.name]
    files += [n for s in voice.samples.all() for n in (s.raw.name, s.clean.name)]
    assert all(default_storage.exists(name) for name in files)
    return files


def test_deleting_the_account_removes_its_things_and_sessions(
    owner, stranger, belongings, django_capture_on_commit_callbacks
):
    kept_voice = make_ready_voice(stranger, "Theirs")
    earlier = AuditEvent.objects.filter(actor_user_id=owner.pk).count()
    other_device = _sign_in(owner, address="198.51.100.8")
    client = _sign_in(owner)
    assert client.get("/profile/delete/").status_code == 200

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post("/profile/delete/", {"password": PASSWORD})
    assert response.status_code == 302 and response["Location"] == "/"

    assert not User.objects.filter(pk=owner.pk).exists()
    assert not Voice.objects.filter(owner_id=owner.pk).exists()
    assert not Sample.objects.filter(owner_id=owner.pk).exists()
    assert not SynthesisJob.objects.filter(owner_id=owner.pk).exists()
    assert not UserAPIKey.objects.filter(user_id=owner.pk).exists()
    assert not any(default_storage.exists(name) for name in belongings)
    assert default_storage.exists(kept_voice.conditioning.name)  # nobody else's

    event = AuditEvent.objects.get(action="accounts.user.deleted")
    assert (event.actor_user_id, event.actor_label) == (owner.pk, "owner@example.com")
    assert event.data["sessions_ended"] == 2 and event.data["api_keys"] == 1
    assert not AuditEvent.objects.filter(action="accounts.user.logged_out").exists()
    # The account's trail is all still there, untouched.
    assert AuditEvent.objects.filter(actor_user_id=owner.pk).count() == earlier + 3
    assert audit_chain_verify().ok

    for device in (client, other_device):  # signed out everywhere
        assert device.get("/dashboard/").status_code == 302


def test_a_wrong_password_deletes_nothing(owner, belongings):
    client = _sign_in(owner)
    response = client.post("/profile/delete/", {"password": "not it"})
    assert response.status_code == 200
    assert "That is not your password." in response.content.decode()
    assert User.objects.filter(pk=owner.pk).exists()
    assert all(default_storage.exists(name) for name in belongings)
    assert not AuditEvent.objects.filter(action="accounts.user.deleted").exists()


def test_deletion_needs_a_post_with_a_csrf_token(owner):
    client = Client(enforce_csrf_checks=True)
    client.force_login(owner)
    assert client.post("/profile/delete/", {"password": PASSWORD}).status_code == 403
    assert client.put("/profile/delete/").status_code in (403, 405)
    assert User.objects.filter(pk=owner.pk).exists()
    anonymous = Client().post("/profile/delete/", {"password": PASSWORD})
    assert anonymous.status_code == 302 and anonymous["Location"].startswith("/accounts/login/")


def test_the_last_administrator_cannot_delete_themselves():
    admin = UserFactory(is_staff=True, is_superuser=True)
    client = _sign_in(admin)
    response = client.post("/profile/delete/", {"password": PASSWORD})
    assert response.status_code == 302 and response["Location"] == "/profile/"
    assert User.objects.filter(pk=admin.pk).exists()
    UserFactory(is_staff=True, is_superuser=True)  # with a second one, it may go
    assert client.post("/profile/delete/", {"password": PASSWORD})["Location"] == "/"
    assert not User.objects.filter(pk=admin.pk).exists()


def test_deleting_a_user_in_the_admin_also_removes_their_files(
    owner, belongings, django_capture_on_commit_callbacks
):
    trail = AuditEvent.objects.filter(actor_user_id=owner.pk).count()
    admin = UserFactory(is_staff=True, is_superuser=True)
    client = Client()
    client.force_login(admin)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(f"/admin/accounts/user/{owner.pk}/delete/", {"post": "yes"})
    assert response.status_code == 302
    assert not User.objects.filter(pk=owner.pk).exists()
    assert not any(default_storage.exists(name) for name in belongings)
    assert AuditEvent.objects.filter(action="admin.accounts.user.deleted").count() == 1
    assert AuditEvent.objects.filter(actor_user_id=owner.pk).count() == trail
    assert audit_chain_verify().ok
