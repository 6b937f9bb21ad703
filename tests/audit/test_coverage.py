"""Every covered action writes exactly one audit event, through the surface people use.

One row per action: `prepare` sets the scene (its own events do not count), `act` performs the
action over HTTP (pages, API, admin), or, for what only a worker does (a job completing or
failing), through the service functions the worker calls. Then exactly one new event of the
expected action exists, by the expected actor.

(Suspension, plan and quota changes and voice blocking are covered in tests/moderation.)
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import random
import re
import struct
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from django.core import mail
from django.test import Client
from rest_framework.test import APIClient

from accounts import services as account_services
from audit.models import AuditEvent
from tests.factories import UserFactory
from tests.synthesis.api_helpers import AUDIO, job_fail, job_finish, job_request
from tests.voices.helpers import make_consent, make_ready_voice, make_sample, upload, wav_bytes

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
NEW_PASSWORD = "a-Different-pass-phrase-42"


@dataclass
class Scene:
    user: Any
    page: Client  # browser-like, signed out, its own client address (rate limits)
    api: APIClient  # the API with the user's session
    state: dict = field(default_factory=dict)


@pytest.fixture
def scene(owner, settings):
    settings.MFA_TOTP_TOLERANCE = 1
    address = f"10.{random.randint(0, 255)}.{random.randint(0, 255)}.{random.randint(1, 254)}"
    api = APIClient(REMOTE_ADDR=address)
    api.force_login(owner)
    return Scene(user=owner, page=Client(REMOTE_ADDR=address), api=api)


def _sign_in(scene: Scene) -> None:
    response = scene.page.post(
        "/accounts/login/", {"login": scene.user.email, "password": PASSWORD}
    )
    assert response.status_code == 302, response.content[:500]


# --- MFA: enrol an authenticator app for real ---------------------------------------------------
def _totp(secret: str, step: int = 0) -> str:
    """RFC 6238 (HMAC-SHA1, 30 s, 6 digits)."""
    key = base64.b32decode(secret, casefold=True)
    digest = hmac.new(key, struct.pack(">Q", int(time.time()) // 30 + step), hashlib.sha1).digest()
    offset = digest[-1] & 0x0F
    value = struct.unpack(">I", digest[offset : offset + 4])[0] & 0x7FFFFFFF
    return f"{value % 10**6:06d}"


def _reauthenticated_get(scene: Scene, url: str):
    response = scene.page.get(url)
    if response.status_code == 302 and "reauthenticate" in response["Location"]:
        again = scene.page.post(response["Location"], {"password": PASSWORD})
        assert again.status_code == 302, again.content[:500]
        response = scene.page.get(url)
    return response


def _mfa_secret(scene: Scene) -> str:
    _sign_in(scene)
    html = _reauthenticated_get(scene, "/accounts/2fa/totp/activate/").content.decode()
    found = re.search(r'id="authenticator_secret"[^>]*value="([A-Z2-7=]+)"', html) or re.search(
        r'value="([A-Z2-7=]{32})"', html
    )
    assert found, html[:2000]
    return found.group(1)


def _mfa_enrol(scene: Scene) -> None:
    secret = _mfa_secret(scene)
    done = scene.page.post("/accounts/2fa/totp/activate/", {"code": _totp(secret)})
    assert done.status_code == 302, done.content[:2000]


def _mfa_activate(scene: Scene) -> None:
    done = scene.page.post("/accounts/2fa/totp/activate/", {"code": _totp(scene.state["secret"])})
    assert done.status_code == 302, done.content[:2000]


def _mfa_deactivate(scene: Scene) -> None:
    _reauthenticated_get(scene, "/accounts/2fa/totp/deactivate/")
    assert scene.page.post("/accounts/2fa/totp/deactivate/").status_code == 302


def _mfa_regenerate_codes(scene: Scene) -> None:
    _reauthenticated_get(scene, "/accounts/2fa/recovery-codes/generate/")
    assert scene.page.post("/accounts/2fa/recovery-codes/generate/").status_code == 302


# --- accounts -----------------------------------------------------------------------------------
def _signup(scene: Scene) -> None:
    response = scene.page.post(
        "/accounts/signup/",
        {"email": "newcomer@example.com", "password1": NEW_PASSWORD, "password2": NEW_PASSWORD},
    )
    assert response.status_code == 302


def _failed_login(scene: Scene) -> None:
    response = scene.page.post("/accounts/login/", {"login": scene.user.email, "password": "no"})
    assert response.status_code == 200


def _logout(scene: Scene) -> None:
    assert scene.page.post("/accounts/logout/").status_code == 302


def _password_change(scene: Scene) -> None:
    response = scene.page.post(
        "/accounts/password/change/",
        {"oldpassword": PASSWORD, "password1": NEW_PASSWORD, "password2": NEW_PASSWORD},
    )
    assert response.status_code == 302


def _password_reset_link(scene: Scene) -> None:
    scene.page.post("/accounts/password/reset/", {"email": scene.user.email})
    link = re.search(r"https?://[^/\s]+(/accounts/password/reset/key/\S+/)", mail.outbox[-1].body)
    response = scene.page.get(link.group(1))  # the key moves to the session
    assert response.status_code == 302
    scene.state["form"] = response["Location"]


def _password_reset(scene: Scene) -> None:
    response = scene.page.post(
        scene.state["form"], {"password1": NEW_PASSWORD, "password2": NEW_PASSWORD}
    )
    assert response.status_code == 302


def _key_create(scene: Scene) -> None:
    response = scene.page.post("/keys/", {"name": "laptop", "scopes": ["all"]})
    assert response.status_code == 200 and b'data-testid="new-key"' in response.content


def _key_exists(scene: Scene) -> None:
    key, _ = account_services.api_key_create(user=scene.user, name="old", scopes=["all"])
    scene.state["prefix"] = key.prefix
    scene.page.force_login(scene.user)


def _key_revoke(scene: Scene) -> None:
    assert scene.page.post(f"/keys/{scene.state['prefix']}/revoke/").status_code == 302


def _account_delete(scene: Scene) -> None:
    response = scene.page.post("/profile/delete/", {"password": PASSWORD})
    assert response.status_code == 302 and response["Location"] == "/"


def _admin_action(scene: Scene) -> None:
    assert scene.page.post("/admin/auth/group/add/", {"name": "editors"}).status_code == 302


def _make_admin(scene: Scene) -> None:
    scene.user = UserFactory(is_staff=True, is_superuser=True)
    scene.page.force_login(scene.user)


# --- voices -------------------------------------------------------------------------------------
def _sample_upload(scene: Scene) -> None:
    assert upload(scene.api, "/api/v1/samples", wav_bytes()).status_code == 202


def _sample_exists(scene: Scene) -> None:
    scene.state["sample"] = make_sample(scene.user)


def _sample_delete(scene: Scene) -> None:
    response = scene.api.delete(f"/api/v1/samples/{scene.state['sample'].code}")
    assert response.status_code == 204


def _consent(scene: Scene) -> None:
    response = scene.api.post("/api/v1/consents", {"attest": True}, format="json")
    assert response.status_code == 201


def _consent_issued(scene: Scene) -> None:
    scene.state["consent"] = make_consent(scene.user, recorded=False)


def _consent_record(scene: Scene) -> None:
    url = f"/api/v1/consents/{scene.state['consent'].code}/recording"
    assert upload(scene.api, url, wav_bytes(), name="consent.webm").status_code == 202


def _voice_parts(scene: Scene) -> None:
    scene.state["samples"] = [make_sample(scene.user), make_sample(scene.user)]
    scene.state["consent"] = make_consent(scene.user)


def _voice_create(scene: Scene) -> None:
    payload = {
        "name": "Mine",
        "samples": [str(s.code) for s in scene.state["samples"]],
        "consent": str(scene.state["consent"].code),
    }
    response = scene.api.post("/api/v1/voices", payload, format="json")
    assert response.status_code == 202, response.content


def _two_voices(scene: Scene) -> None:
    scene.state["voices"] = [
        make_ready_voice(scene.user, "Alice", seed=1),
        make_ready_voice(scene.user, "Bob", seed=2),
    ]


def _voice_mix(scene: Scene) -> None:
    alice, bob = scene.state["voices"]
    payload = {
        "name": "Blend",
        "voices": [{"id": str(alice.code), "weight": 1}, {"id": str(bob.code), "weight": 1}],
    }
    response = scene.api.post("/api/v1/voices/mix", payload, format="json")
    assert response.status_code == 201, response.content


def _voice_delete(scene: Scene) -> None:
    response = scene.api.delete(f"/api/v1/voices/{scene.state['voices'][0].code}")
    assert response.status_code == 204


# --- synthesis ------------------------------------------------------------------------------------
def _voice(scene: Scene) -> None:
    scene.state["voice"] = make_ready_voice(scene.user, "Speaker")


def _synthesis_request(scene: Scene) -> None:
    payload = {"text": "Hello there.", "voice": str(scene.state["voice"].code)}
    response = scene.api.post("/api/v1/synthesis", payload, format="json")
    assert response.status_code == 202, response.content


def _queued_job(scene: Scene) -> None:
    _voice(scene)
    scene.state["job"] = job_request(scene.user, scene.state["voice"])


def _finished_job(scene: Scene) -> None:
    _queued_job(scene)
    scene.state["job"] = job_finish(scene.state["job"])


def _synthesis_download(scene: Scene) -> None:
    response = scene.api.get(f"/api/v1/synthesis/{scene.state['job'].code}/audio")
    assert response.status_code == 200
    content = b"".join(response.streaming_content) if response.streaming else response.content
    assert content == AUDIO


def _nothing(scene: Scene) -> None:
    pass


Step = Callable[[Scene], None]
CASES: list[tuple[str, Step, Step]] = [
    ("accounts.user.signed_up", _nothing, _signup),
    ("accounts.user.logged_in", _nothing, _sign_in),
    ("accounts.user.login_failed", _nothing, _failed_login),
    ("accounts.user.logged_out", _sign_in, _logout),
    ("accounts.user.password_changed", _sign_in, _password_change),
    ("accounts.user.password_reset", _password_reset_link, _password_reset),
    ("accounts.mfa.added", lambda s: s.state.update(secret=_mfa_secret(s)), _mfa_activate),
    ("accounts.mfa.removed", _mfa_enrol, _mfa_deactivate),
    ("accounts.mfa.reset", _mfa_enrol, _mfa_regenerate_codes),
    ("accounts.api_key.created", lambda s: s.page.force_login(s.user), _key_create),
    ("accounts.api_key.revoked", _key_exists, _key_revoke),
    ("accounts.user.deleted", lambda s: s.page.force_login(s.user), _account_delete),
    ("admin.auth.group.added", _make_admin, _admin_action),
    ("voices.sample.uploaded", _nothing, _sample_upload),
    ("voices.sample.deleted", _sample_exists, _sample_delete),
    ("voices.consent.attested", _nothing, _consent),
    ("voices.consent.recorded", _consent_issued, _consent_record),
    ("voices.voice.created", _voice_parts, _voice_create),
    ("voices.voice.mixed", _two_voices, _voice_mix),
    ("voices.voice.deleted", _two_voices, _voice_delete),
    ("synthesis.job.requested", _voice, _synthesis_request),
    ("synthesis.job.completed", _queued_job, lambda s: job_finish(s.state["job"])),
    ("synthesis.job.failed", _queued_job, lambda s: job_fail(s.state["job"])),
    ("synthesis.job.downloaded", _finished_job, _synthesis_download),
]
# Worker-side outcomes are the system's doing; account events done signed out name nobody.
ACTORS = {
    "synthesis.job.completed": "system",
    "synthesis.job.failed": "system",
    "accounts.user.login_failed": "anonymous",
    "admin.auth.group.added": "admin",
}
# allauth sends these MFA signals from transaction.on_commit: run the commit callbacks.
AFTER_COMMIT = {"accounts.mfa.added", "accounts.mfa.reset"}


@pytest.mark.parametrize(("action", "prepare", "act"), CASES, ids=[c[0] for c in CASES])
def test_action_writes_exactly_one_event(
    scene, action, prepare, act, django_capture_on_commit_callbacks
):
    if action in AFTER_COMMIT:
        with django_capture_on_commit_callbacks(execute=True):
            prepare(scene)
    else:
        prepare(scene)
    before = AuditEvent.objects.filter(action=action).count()
    last_seq = AuditEvent.objects.order_by("-seq").values_list("seq", flat=True).first() or 0
    if action in AFTER_COMMIT:
        with django_capture_on_commit_callbacks(execute=True):
            act(scene)
    else:
        act(scene)
    new = AuditEvent.objects.filter(action=action, seq__gt=last_seq)
    assert new.count() == 1 == AuditEvent.objects.filter(action=action).count() - before, list(
        AuditEvent.objects.filter(seq__gt=last_seq).values_list("action", flat=True)
    )
    event = new.get()
    assert event.actor_type == ACTORS.get(action, "user")
    if event.actor_type in ("user", "admin") and action != "accounts.user.signed_up":
        assert event.actor_user_id == scene.user.pk
        assert event.actor_label == scene.user.email


def test_the_table_covers_every_listed_action():
    """Guard against a row being dropped: the issue's list, by action name."""
    assert {c[0] for c in CASES} >= {
        "accounts.user.signed_up",
        "accounts.user.logged_in",
        "accounts.user.login_failed",
        "accounts.user.logged_out",
        "accounts.user.password_changed",
        "accounts.user.password_reset",
        "accounts.mfa.added",
        "accounts.mfa.removed",
        "accounts.api_key.created",
        "accounts.api_key.revoked",
        "voices.sample.uploaded",
        "voices.sample.deleted",
        "voices.consent.attested",
        "voices.voice.created",
        "voices.voice.mixed",
        "voices.voice.deleted",
        "synthesis.job.requested",
        "synthesis.job.completed",
        "synthesis.job.failed",
        "synthesis.job.downloaded",
        "accounts.user.deleted",
        "admin.auth.group.added",
    }
