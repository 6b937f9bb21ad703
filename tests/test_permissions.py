"""Every endpoint under /api/v1, by every role.

Roles: anonymous (401), the owner (the endpoint's own success status), another user (404 for
the owner's objects; their own empty lists otherwise), a key without the scope (403) and a
revoked key (401). The voices API has its own, finer table (tests/voices); here its endpoints
only get the role checks that need no uploads.
"""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from accounts import services as account_services
from synthesis.batches.services import batch_create, batch_finish
from synthesis.models import WebhookDelivery
from synthesis.webhooks import services as webhooks
from tests.synthesis.api_helpers import job_finish, job_request, make_ready_voice
from tests.voices.helpers import make_consent, make_sample

pytestmark = pytest.mark.django_db

R, W, U = "history:read", "tts", "usage:read"

# (method, path, scope, the owner's status). {name} is filled from the `objects` fixture.
SYNTHESIS = [
    ("get", "/api/v1/synthesis", R, 200),
    ("post", "/api/v1/synthesis", W, 202),
    ("post", "/api/v1/synthesis/stream", W, 503),  # no worker in this test: the stream times out
    ("get", "/api/v1/synthesis/{job}", R, 200),
    ("delete", "/api/v1/synthesis/{job}", W, 204),
    ("post", "/api/v1/synthesis/{queued}/cancel", W, 200),
    ("get", "/api/v1/synthesis/{job}/audio", R, 200),
    ("get", "/api/v1/synthesis/{job}/timings", R, 200),
    ("get", "/api/v1/synthesis/{job}/captions", R, 200),
    ("get", "/api/v1/synthesis/{job}/captions.vtt", R, 200),
    ("get", "/api/v1/synthesis/{job}/captions.srt", R, 200),
    ("get", "/api/v1/synthesis/batch", R, 200),
    ("post", "/api/v1/synthesis/batch", W, 202),
    ("get", "/api/v1/synthesis/batch/{batch}", R, 200),
    ("get", "/api/v1/synthesis/batch/{batch}/archive", R, 200),
    ("get", "/api/v1/usage", U, 200),
    ("get", "/api/v1/webhooks/secret", W, 200),
    ("post", "/api/v1/webhooks/secret/rotate", W, 200),
    ("get", "/api/v1/webhooks/deliveries", R, 200),
    ("get", "/api/v1/engines", "voices:read", 200),
    ("get", "/api/v1/models", None, 200),  # any key: the names a client may send as `model`
    ("get", "/api/v1/webhooks/deliveries/{delivery}", R, 200),
]
VOICES = [
    ("get", "/api/v1/voices", "voices:read", 200),
    ("get", "/api/v1/voices/{voice}", "voices:read", 200),
    ("patch", "/api/v1/voices/{voice}", "voices:write", 200),
    ("delete", "/api/v1/voices/{other_voice}", "voices:write", 204),
    ("post", "/api/v1/voices/{voice}/engines", "voices:write", 202),
    ("get", "/api/v1/samples", "voices:read", 200),
    ("get", "/api/v1/samples/{sample}", "voices:read", 200),
    ("get", "/api/v1/samples/{sample}/audio", "voices:read", 200),
    ("delete", "/api/v1/samples/{sample}", "voices:write", 204),
    ("post", "/api/v1/consents", "voices:write", 201),
    ("get", "/api/v1/consents/{consent}", "voices:read", 200),
    ("get", "/api/v1/languages", "voices:read", 200),
]
ACCOUNTS = [("get", "/api/v1/me", None, 200)]
# Any key may check a file; no file is a 400 (tests/provenance send real uploads).
PROVENANCE = [("post", "/api/v1/provenance/detect", None, 400)]
ENDPOINTS = SYNTHESIS + VOICES + ACCOUNTS + PROVENANCE
OBJECT_ENDPOINTS = [e for e in ENDPOINTS if "{" in e[1]]
SCOPED = [e for e in ENDPOINTS if e[2]]


def _id(endpoint) -> str:
    return f"{endpoint[0].upper()} {endpoint[1]}"


@pytest.fixture(autouse=True)
def quick(settings, monkeypatch):
    settings.SYNTHESIS_STREAM_FIRST_TIMEOUT = 0.2
    settings.WEBHOOKS_ALLOW_PRIVATE = True
    monkeypatch.setattr("synthesis.webhooks.services.task_send_on_commit", lambda *a, **kw: None)


@pytest.fixture
def objects(owner):
    voice = make_ready_voice(owner, "Owned")
    job = job_finish(job_request(owner, voice, "Done.", webhook_url="http://127.0.0.1:9/h"))
    batch = batch_create(owner=owner, items=[{"voice": voice, "text": "In a batch."}])
    job_finish(batch.jobs.get())
    batch_finish(batch_id=batch.pk)
    return {
        "voice": voice.code,
        "other_voice": make_ready_voice(owner, "Second").code,
        "job": job.code,
        "queued": job_request(owner, voice, "Waiting.").code,
        "batch": batch.code,
        "delivery": WebhookDelivery.objects.get(job=job).code,
        "sample": make_sample(owner).code,
        "consent": make_consent(owner, recorded=False).code,
    }


def call(client, endpoint, objects):
    method, path, _, _ = endpoint
    url = path.format(**objects)
    voice = str(objects["voice"])
    data = None
    if method == "post" and url.endswith(("/synthesis", "/stream")):
        data = {"text": "Hello.", "voice": voice}
    elif url.endswith("/batch") and method == "post":
        data = {"voice": voice, "items": [{"text": "One."}, {"text": "Two."}]}
    elif url.endswith("/consents"):
        data = {"attest": True}
    elif url.endswith("/engines") and method == "post":
        data = {"engine": "toy"}  # the test-only engine (tests/support/toy_engine)
    elif method == "patch":
        data = {"name": "Renamed"}
    response = getattr(client, method)(url, data, format="json")
    if response.streaming:
        b"".join(response.streaming_content)
    return response


def key_client(user, scopes) -> APIClient:
    _, secret = account_services.api_key_create(user=user, name="t", scopes=scopes)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
    return client


@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=_id)
def test_anonymous_gets_401(objects, endpoint):
    response = call(APIClient(), endpoint, objects)
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "not_authenticated"


@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=_id)
def test_owner_gets_through(owner, objects, endpoint):
    client = APIClient()
    client.force_login(owner)
    response = call(client, endpoint, objects)
    assert response.status_code == endpoint[3], response.content[:300]


@pytest.mark.parametrize("endpoint", [e for e in SCOPED if e[0] == "get"], ids=_id)
def test_owner_key_with_the_scope_reads(owner, objects, endpoint):
    response = call(key_client(owner, [endpoint[2]]), endpoint, objects)
    assert response.status_code == endpoint[3]


@pytest.mark.parametrize("endpoint", OBJECT_ENDPOINTS, ids=_id)
def test_another_user_gets_404(stranger, objects, endpoint):
    client = APIClient()
    client.force_login(stranger)
    response = call(client, endpoint, objects)
    assert response.status_code == 404
    assert response.json()["error"]["code"] in ("not_found", "voice_not_found")


@pytest.mark.parametrize("endpoint", OBJECT_ENDPOINTS, ids=_id)
def test_another_users_key_gets_404(stranger, objects, endpoint):
    response = call(key_client(stranger, ["all"]), endpoint, objects)
    assert response.status_code == 404


@pytest.mark.parametrize(
    "path",
    ["/api/v1/synthesis", "/api/v1/synthesis/batch", "/api/v1/webhooks/deliveries"],
)
def test_another_users_lists_are_their_own(stranger, objects, path):
    client = APIClient()
    client.force_login(stranger)
    assert client.get(path).json()["count"] == 0


def test_another_users_posts_cannot_use_the_owners_voice(stranger, objects):
    client = APIClient()
    client.force_login(stranger)
    voice = str(objects["voice"])
    for path in ("/api/v1/synthesis", "/api/v1/synthesis/stream", "/api/v1/synthesis/batch"):
        payload = {"text": "Hi.", "voice": voice, "items": [{"text": "Hi."}]}
        response = client.post(path, payload, format="json")
        assert response.status_code == 404, path
        assert response.json()["error"]["code"] == "voice_not_found"


@pytest.mark.parametrize("endpoint", SCOPED, ids=_id)
def test_key_without_the_scope_gets_403(owner, objects, endpoint):
    others = [s for s in (R, W, U, "voices:read", "voices:write") if s != endpoint[2]]
    response = call(key_client(owner, others), endpoint, objects)
    assert response.status_code == 403
    error = response.json()["error"]
    assert error["code"] == "permission_denied" and endpoint[2] in error["message"]


@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=_id)
def test_revoked_key_gets_401(owner, objects, endpoint):
    key, secret = account_services.api_key_create(user=owner, name="gone", scopes=["all"])
    account_services.api_key_revoke(user=owner, key=key)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
    response = call(client, endpoint, objects)
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "authentication_failed"


def test_every_synthesis_route_is_in_the_table():
    from synthesis.api import urls

    table = {path for _, path, _, _ in SYNTHESIS}
    for pattern in urls.urlpatterns:
        route = "/api/v1/" + str(pattern.pattern).replace("<uuid:code>", "{x}")
        assert any(_same_route(route, path) for path in table), route


def _same_route(route: str, path: str) -> bool:
    import re

    return re.sub(r"\{\w+\}", "{x}", path) == route


def test_webhook_secret_rotation_is_audited(owner):
    from audit.models import AuditEvent

    first = webhooks.secret_get(owner=owner).secret
    client = APIClient()
    client.force_login(owner)
    rotated = client.post("/api/v1/webhooks/secret/rotate").json()
    assert rotated["secret"] != first and rotated["secret"].startswith("whsec_")
    assert rotated["header"] == "Timbre-Signature"
    assert client.get("/api/v1/webhooks/secret").json()["secret"] == rotated["secret"]
    assert AuditEvent.objects.filter(action="synthesis.webhook_secret.rotated").count() == 1
