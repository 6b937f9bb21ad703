import re
from datetime import timedelta

import pytest
from django.utils import timezone

from accounts import services
from accounts.models import UserAPIKey
from audit.models import AuditEvent


@pytest.fixture
def key_and_secret(owner):
    return services.api_key_create(user=owner, name="ci", scopes=["tts"])


@pytest.mark.django_db
@pytest.mark.parametrize(
    "header",
    [
        lambda s: {"HTTP_AUTHORIZATION": f"Bearer {s}"},
        lambda s: {"HTTP_AUTHORIZATION": f"Api-Key {s}"},
        lambda s: {"HTTP_XI_API_KEY": s},
    ],
    ids=["bearer", "api-key", "xi-api-key"],
)
def test_key_authenticates_in_every_accepted_header(api_client, owner, key_and_secret, header):
    key, secret = key_and_secret
    response = api_client.get("/api/v1/me", **header(secret))
    assert response.status_code == 200
    assert response.json()["email"] == owner.email
    key.refresh_from_db()
    assert key.last_used_at is not None


@pytest.mark.django_db
def test_secret_is_stored_hashed(key_and_secret):
    key, secret = key_and_secret
    assert secret.startswith(key.prefix + ".")
    assert secret.split(".", 1)[1] not in key.hashed_key
    assert AuditEvent.objects.filter(
        action="accounts.api_key.created", target_id=key.prefix
    ).exists()


@pytest.mark.django_db
@pytest.mark.parametrize("bad", ["nope", "abc.def", ""])
def test_wrong_key_is_401_in_error_shape(api_client, bad):
    response = api_client.get("/api/v1/me", HTTP_AUTHORIZATION=f"Bearer {bad}x")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "authentication_failed"


@pytest.mark.django_db
def test_revoked_key_is_refused(api_client, owner, key_and_secret):
    key, secret = key_and_secret
    services.api_key_revoke(user=owner, key=key)
    response = api_client.get("/api/v1/me", HTTP_AUTHORIZATION=f"Bearer {secret}")
    assert response.status_code == 401
    assert AuditEvent.objects.filter(action="accounts.api_key.revoked").count() == 1


@pytest.mark.django_db
def test_expired_key_is_refused(api_client, owner):
    _, secret = services.api_key_create(
        user=owner, name="old", scopes=["all"], expiry_date=timezone.now() - timedelta(minutes=1)
    )
    response = api_client.get("/api/v1/me", HTTP_AUTHORIZATION=f"Bearer {secret}")
    assert response.status_code == 401
    assert "expired" in response.json()["error"]["message"]


@pytest.mark.django_db
def test_unknown_scope_is_refused(owner):
    from config.service_errors import ServiceError

    with pytest.raises(ServiceError):
        services.api_key_create(user=owner, name="x", scopes=["root"])
    assert not UserAPIKey.objects.exists()


@pytest.mark.django_db
def test_keys_page_shows_secret_once_and_revokes(client, owner):
    client.force_login(owner)
    page = client.post("/keys/", {"name": "laptop", "scopes": ["tts", "voices:read"]})
    assert page.status_code == 200
    secret = re.search(r"<code>([A-Za-z0-9]{8}\.[A-Za-z0-9]+)</code>", page.content.decode())
    assert secret
    key = UserAPIKey.objects.get(user=owner)
    assert key.scopes == ["tts", "voices:read"]
    again = client.get("/keys/").content.decode()
    assert secret.group(1) not in again and key.prefix in again
    assert client.post(f"/keys/{key.prefix}/revoke/").status_code == 302
    key.refresh_from_db()
    assert key.revoked


@pytest.mark.django_db
def test_strangers_cannot_revoke_my_key(client, stranger, key_and_secret):
    key, _ = key_and_secret
    client.force_login(stranger)
    assert client.post(f"/keys/{key.prefix}/revoke/").status_code == 404
    key.refresh_from_db()
    assert not key.revoked
