import pytest
from django.test import RequestFactory

from audit.models import AuditEvent
from audit.services import audit_record
from audit.verify import audit_chain_verify
from tests.factories import UserFactory


@pytest.mark.django_db
def test_record_takes_actor_and_context_from_request(owner):
    request = RequestFactory().get("/", HTTP_USER_AGENT="pytest-agent", REMOTE_ADDR="10.1.2.3")
    request.user = owner
    request.request_id = "req-1"
    event = audit_record(
        action="accounts.user.tested", request=request, target=owner, data={"k": 1}
    )
    assert event.actor_type == "user"
    assert event.actor_user == owner
    assert (event.ip, event.user_agent, event.request_id) == ("10.1.2.3", "pytest-agent", "req-1")
    assert (event.target_type, event.target_id) == ("accounts.user", str(owner.code))
    assert event.data == {"k": 1}


@pytest.mark.django_db
def test_forged_forwarded_for_is_ignored_without_trusted_proxies(settings):
    settings.NUM_PROXIES = 0
    request = RequestFactory().get("/", REMOTE_ADDR="10.0.0.9", HTTP_X_FORWARDED_FOR="6.6.6.6")
    assert audit_record(action="t.t.t", request=request).ip == "10.0.0.9"


@pytest.mark.django_db
def test_trusted_proxy_hop_is_used(settings):
    settings.NUM_PROXIES = 1
    request = RequestFactory().get(
        "/", REMOTE_ADDR="10.0.0.1", HTTP_X_FORWARDED_FOR="6.6.6.6, 203.0.113.7"
    )
    # The client forged 6.6.6.6; our one proxy appended the address it really saw.
    assert audit_record(action="t.t.t", request=request).ip == "203.0.113.7"


@pytest.mark.django_db
def test_events_are_append_only():
    event = audit_record(action="t.t.t", actor_type=AuditEvent.ActorType.SYSTEM)
    assert event.actor_label == "system"
    event.action = "changed"
    with pytest.raises(ValueError, match="append-only"):
        event.save()
    with pytest.raises(ValueError, match="append-only"):
        event.delete()


@pytest.mark.django_db
def test_deleting_a_user_keeps_their_trail():
    user = UserFactory()
    before = audit_record(action="t.t.t", user=user)
    user_id = user.pk
    user.delete()
    event = AuditEvent.objects.get(action="t.t.t")
    # Untouched: the row still names the (now absent) account by id and by label, and its hash
    # still matches, so deleting a user is no UPDATE of the append-only table.
    assert event.actor_user_id == user_id
    assert event.actor_label == user.email
    assert event.hash == before.hash
    assert audit_chain_verify().ok


@pytest.mark.django_db
def test_admin_reads_events_but_cannot_change_them(client):
    admin = UserFactory(is_staff=True, is_superuser=True)
    event = audit_record(action="t.t.t", user=admin)
    client.force_login(admin)
    assert client.get("/admin/audit/auditevent/").status_code == 200
    assert client.get(f"/admin/audit/auditevent/{event.pk}/change/").status_code == 200
    assert client.get("/admin/audit/auditevent/add/").status_code == 403
    assert (
        client.post(f"/admin/audit/auditevent/{event.pk}/delete/", {"post": "yes"}).status_code
        == 403
    )
    assert AuditEvent.objects.filter(pk=event.pk).exists()
