"""A task travels through the real broker to a real worker process and back to the database."""

import pytest
from django.core.management import call_command

from audit.models import AuditEvent
from config.celery import QUEUES


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_every_queue_is_served_by_a_real_worker(celery_worker, capsys):
    call_command("workers_ping", "--timeout", "90")
    out = capsys.readouterr().out
    events = AuditEvent.objects.filter(action="system.worker.pinged")
    assert sorted(e.data["queue"] for e in events) == sorted(QUEUES)
    assert all(e.actor_type == AuditEvent.ActorType.SYSTEM for e in events)
    for queue in QUEUES:
        assert f"{queue}: answered by test-" in out


@pytest.mark.django_db
def test_ping_fails_clearly_without_workers(settings):
    from django.core.management.base import CommandError

    settings.CELERY_TASK_ALWAYS_EAGER = False
    with pytest.raises(CommandError, match="No worker answered on: audio"):
        # No worker consumes in this test: nothing can answer within the timeout.
        from unittest import mock

        with mock.patch("config.celery.app.send_task"):
            call_command("workers_ping", "--timeout", "0.5", "--queue", "audio")
