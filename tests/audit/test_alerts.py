"""The periodic verification (beat) raises an alert admins see, once, until one resolves it."""

from __future__ import annotations

import contextlib
import logging

import pgtrigger
import pytest
from django.conf import settings
from django.core import mail
from django.db import connection

from audit.models import AuditAlert, AuditEvent
from audit.services import audit_record
from audit.tasks import verify_chain
from audit.verify import audit_chain_verify
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

INDEX = "/admin/"


def _break_chain() -> None:
    events = [audit_record(action=f"t.t.e{i}", actor_type="system") for i in range(3)]
    guard = (
        pgtrigger.ignore("audit.AuditEvent:audit_event_append_only")
        if connection.vendor == "postgresql"
        else contextlib.nullcontext()
    )
    sql = "UPDATE {table} SET action = 'x' WHERE id = %s"
    with guard, connection.cursor() as cursor:
        cursor.execute(sql.replace("{table}", AuditEvent._meta.db_table), [events[1].pk])


def test_beat_runs_the_verification_hourly_by_default():
    entry = settings.CELERY_BEAT_SCHEDULE["audit-verify"]
    assert entry["task"] == verify_chain.name == "audit.tasks.verify_chain"
    assert entry["schedule"] == 3600.0


def test_an_intact_chain_raises_nothing(caplog):
    audit_record(action="t.t.t", actor_type="system")
    with caplog.at_level(logging.ERROR):
        assert verify_chain() is True
    assert not AuditAlert.objects.exists()
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


def test_a_broken_chain_opens_one_alert_logs_and_mails(settings, caplog, client):
    settings.ADMINS = [("Ops", "ops@example.com")]
    _break_chain()
    with caplog.at_level(logging.ERROR, logger="audit.services"):
        assert verify_chain() is False
    alert = AuditAlert.objects.get()
    assert alert.is_open and alert.runs == 1
    assert "1 edited" in alert.summary
    assert alert.problems[0]["kind"] == "edited" and alert.problems[0]["seq"] == 2
    errors = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert len(errors) == 1 and "audit chain verification failed" in errors[0].getMessage()
    assert len(mail.outbox) == 1 and mail.outbox[0].to == ["ops@example.com"]

    # The next failing run refreshes the same alert: no pile of duplicates, no second mail.
    assert verify_chain() is False
    alert.refresh_from_db()
    assert AuditAlert.objects.count() == 1 and alert.runs == 2
    assert len(mail.outbox) == 1

    # Admins see it on the admin index.
    admin = UserFactory(is_staff=True, is_superuser=True)
    client.force_login(admin)
    page = client.get(INDEX).content.decode()
    assert 'data-testid="audit-alert"' in page and "hash chain is broken" in page
    assert client.get("/admin/audit/auditalert/").status_code == 200
    assert client.get(f"/admin/audit/auditalert/{alert.pk}/change/").status_code == 200

    # Resolving it (an admin action, itself audited) takes the banner away...
    response = client.post(
        "/admin/audit/auditalert/",
        {"action": "resolve", "_selected_action": [alert.pk]},
    )
    assert response.status_code == 302
    alert.refresh_from_db()
    assert not alert.is_open and alert.resolved_by == admin
    assert AuditEvent.objects.filter(action="audit.alert.resolved", actor_user=admin).count() == 1
    assert 'data-testid="audit-alert"' not in client.get(INDEX).content.decode()

    # ... and a chain still broken at the next run opens a new one.
    verify_chain()
    assert AuditAlert.objects.filter(is_open=True).count() == 1
    assert AuditAlert.objects.count() == 2


def test_no_banner_without_an_alert(client):
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    page = client.get(INDEX)
    assert page.status_code == 200
    assert 'data-testid="audit-alert"' not in page.content.decode()


def test_alerts_are_not_edited_or_deleted_in_the_admin(client):
    _break_chain()
    verify_chain()
    alert = AuditAlert.objects.get()
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    assert client.get("/admin/audit/auditalert/add/").status_code == 403
    client.post(f"/admin/audit/auditalert/{alert.pk}/change/", {"summary": "fine"})
    client.post(f"/admin/audit/auditalert/{alert.pk}/delete/", {"post": "yes"})
    alert.refresh_from_db()
    assert alert.summary != "fine" and AuditAlert.objects.filter(pk=alert.pk).exists()


def _delete_events(*seqs: int) -> None:
    guard = (
        pgtrigger.ignore("audit.AuditEvent:audit_event_append_only")
        if connection.vendor == "postgresql"
        else contextlib.nullcontext()
    )
    sql = "DELETE FROM {table} WHERE seq IN ({marks})"
    sql = sql.replace("{marks}", ", ".join(["%s"] * len(seqs)))
    with guard, connection.cursor() as cursor:
        cursor.execute(sql.replace("{table}", AuditEvent._meta.db_table), list(seqs))


def test_a_cut_off_end_is_caught_by_the_next_run():
    """The chain alone cannot show that its newest events were deleted; the end seen by the
    last good run (its checkpoint) must still be there."""
    for i in range(5):
        audit_record(action=f"t.t.e{i}", actor_type="system")
    assert verify_chain() is True
    _delete_events(4, 5)
    result = audit_chain_verify()
    assert [(p.kind, p.seq, p.last_seq) for p in result.problems] == [("missing", 4, 5)]
    assert "the end of the log was cut off" in result.problems[0].detail
    assert verify_chain() is False
    assert AuditAlert.objects.get().problems[0]["kind"] == "missing"


def test_a_replaced_end_is_caught_by_the_next_run():
    for i in range(3):
        audit_record(action=f"t.t.e{i}", actor_type="system")
    assert verify_chain() is True
    _delete_events(3)
    audit_record(action="t.t.other", actor_type="system")  # a chain that links up again
    problems = audit_chain_verify().problems
    assert [(p.kind, p.seq, p.action) for p in problems] == [("edited", 3, "t.t.other")]
    assert "replaced" in problems[0].detail


def test_events_after_the_checkpoint_keep_the_chain_intact():
    audit_record(action="t.t.a", actor_type="system")
    assert verify_chain() is True
    audit_record(action="t.t.b", actor_type="system")
    assert verify_chain() is True and audit_chain_verify().ok
    assert not AuditAlert.objects.exists()
