"""The audit admin: read-only, searchable, no N+1; every admin action mirrored as one event."""

from __future__ import annotations

import pytest
from django.contrib.admin.models import LogEntry
from django.contrib.auth.models import Group
from django.db import connection
from django.test.utils import CaptureQueriesContext

from audit.models import AuditEvent
from audit.services import audit_record
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

CHANGELIST = "/admin/audit/auditevent/"


@pytest.fixture
def admin_client(client):
    admin = UserFactory(is_staff=True, is_superuser=True, email="admin@example.com")
    client.force_login(admin)
    client.admin = admin
    return client


def _changelist_queries(client, url=CHANGELIST) -> int:
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url)
    assert response.status_code == 200
    return len(queries)


def test_changelist_queries_do_not_grow_with_events(admin_client):
    users = [UserFactory() for _ in range(3)]
    for user in users:
        audit_record(action="t.t.t", user=user, target=user)
    few = _changelist_queries(admin_client)
    for i in range(60):
        user = users[i % 3]
        audit_record(action=f"t.t.e{i % 7}", user=user, target=user, data={"i": i})
    users[0].delete()  # dangling actor ids must not cost a query each either
    assert _changelist_queries(admin_client) == few
    assert _changelist_queries(admin_client, CHANGELIST + "?q=t.t.e1") == few


def test_search_finds_by_action_actor_target_ip_and_request_id(admin_client, rf):
    target = UserFactory(email="target@example.com")
    request = rf.get("/", REMOTE_ADDR="203.0.113.9")
    request.user = UserFactory(email="actor@example.com")
    request.request_id = "req-abc123"
    audit_record(action="accounts.user.special", request=request, target=target)
    audit_record(action="other.thing.done", actor_type="system")
    for query in ("special", "actor@example.com", str(target.code), "203.0.113.9", "req-abc123"):
        assert _found(admin_client, q=query) == ["accounts.user.special"], query
    assert _found(admin_client, actor_type__exact="system") == ["other.thing.done"]
    by_area = _found(admin_client, area="accounts")
    assert "accounts.user.special" in by_area and "other.thing.done" not in by_area


def _found(client, **params) -> list[str]:
    response = client.get(CHANGELIST, params)
    assert response.status_code == 200
    return [event.action for event in response.context["cl"].result_list]


def test_an_event_of_a_deleted_user_still_shows(admin_client):
    user = UserFactory(email="gone@example.com")
    event = audit_record(action="t.t.t", user=user)
    user_id = user.pk
    user.delete()
    assert admin_client.get(CHANGELIST).status_code == 200
    page = admin_client.get(f"{CHANGELIST}{event.pk}/change/")
    assert page.status_code == 200
    body = page.content.decode()
    assert "gone@example.com" in body and f"#{user_id} (deleted)" in body


def test_events_are_not_editable_in_the_admin(admin_client):
    event = audit_record(action="t.t.t", actor_type="system")
    admin_client.post(f"{CHANGELIST}{event.pk}/change/", {"action": "changed"})
    admin_client.post(CHANGELIST, {"action": "delete_selected", "_selected_action": [event.pk]})
    stored = AuditEvent.objects.get(pk=event.pk)
    assert stored.action == "t.t.t" and stored.hash == event.hash


# --- every admin action becomes one audit event ----------------------------------------------
def _admin_events(verb: str):
    return AuditEvent.objects.filter(action=f"admin.auth.group.{verb}")


def test_admin_add_change_and_delete_are_each_one_event(admin_client):
    admin = admin_client.admin
    response = admin_client.post("/admin/auth/group/add/", {"name": "editors"})
    assert response.status_code == 302
    group = Group.objects.get(name="editors")
    added = _admin_events("added").get()
    assert (added.actor_type, added.actor_user_id) == ("admin", admin.pk)
    assert (added.target_type, added.target_id) == ("auth.group", str(group.pk))
    assert added.data["repr"] == "editors"
    assert added.data["change_message"] == "Added."

    response = admin_client.post(f"/admin/auth/group/{group.pk}/change/", {"name": "writers"})
    assert response.status_code == 302
    changed = _admin_events("changed").get()
    assert changed.data["change_message"] == "Changed Name."

    response = admin_client.post(f"/admin/auth/group/{group.pk}/delete/", {"post": "yes"})
    assert response.status_code == 302
    assert _admin_events("deleted").get().data["repr"] == "writers"
    assert AuditEvent.objects.filter(action__startswith="admin.").count() == 3
    assert LogEntry.objects.count() == 3


def test_bulk_delete_in_the_admin_is_one_event_per_object(admin_client):
    groups = [Group.objects.create(name=f"g{i}") for i in range(3)]
    response = admin_client.post(
        "/admin/auth/group/",
        {"action": "delete_selected", "_selected_action": [g.pk for g in groups], "post": "yes"},
    )
    assert response.status_code == 302
    assert not Group.objects.exists()
    deleted = _admin_events("deleted")
    assert sorted(deleted.values_list("target_id", flat=True)) == sorted(str(g.pk) for g in groups)
    assert deleted.count() == 3 == LogEntry.objects.count()
