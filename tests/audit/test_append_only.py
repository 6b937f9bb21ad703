"""The audit table refuses change on PostgreSQL, and the chain holds under concurrent writers."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from django.db import DatabaseError, connection, connections, transaction
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

from audit.models import AuditEvent
from audit.services import audit_record
from audit.verify import audit_chain_verify
from tests.factories import UserFactory

TABLE = AuditEvent._meta.db_table
postgres_only = pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="the append-only triggers are PostgreSQL triggers (django-pgtrigger); SQLite has none",
)


@postgres_only
@pytest.mark.django_db
@pytest.mark.parametrize(
    "sql",
    [
        "UPDATE {table} SET action = 'rewritten'",
        "UPDATE {table} SET hash = hash",
        "DELETE FROM {table}",
        "TRUNCATE {table}",
        "TRUNCATE {table} CASCADE",
    ],
)
def test_raw_sql_cannot_change_the_log(sql):
    event = audit_record(action="t.t.t", actor_type="system")
    with (
        pytest.raises(DatabaseError, match="pgtrigger: Cannot"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute(sql.replace("{table}", TABLE))
    stored = AuditEvent.objects.get()
    assert (stored.action, stored.hash) == ("t.t.t", event.hash)


@postgres_only
@pytest.mark.django_db
def test_the_orm_cannot_bypass_the_model_guard():
    audit_record(action="t.t.t", actor_type="system")
    with pytest.raises(DatabaseError, match="pgtrigger"), transaction.atomic():
        AuditEvent.objects.update(action="rewritten")
    with pytest.raises(DatabaseError, match="pgtrigger"), transaction.atomic():
        AuditEvent.objects.all().delete()
    assert AuditEvent.objects.filter(action="t.t.t").count() == 1


@postgres_only
@pytest.mark.django_db(transaction=True)
def test_transactional_tests_still_flush_the_log_1():
    """Transactional tests end with a TRUNCATE flush; the test suite (only) steps around the
    TRUNCATE trigger (tests/conftest.py). This test and the next prove it in both orders."""
    audit_record(action="t.t.t", actor_type="system")
    assert AuditEvent.objects.count() == 1


@postgres_only
@pytest.mark.django_db(transaction=True)
def test_transactional_tests_still_flush_the_log_2():
    assert AuditEvent.objects.count() == 0
    audit_record(action="t.t.t", actor_type="system")
    assert AuditEvent.objects.get().seq == 1  # a new chain in the emptied table


@pytest.mark.django_db(transaction=True)
def test_concurrent_writers_do_not_fork_the_chain():
    """Threads (each with its own connection) append at once, each inside a transaction that
    also does other work; the chain stays one line and verifies."""
    threads_n, per_thread = 8, 10
    barrier = threading.Barrier(threads_n)
    errors: list[BaseException] = []
    user = UserFactory()

    def write(index: int) -> None:
        try:
            barrier.wait(timeout=30)
            for n in range(per_thread):
                with transaction.atomic():
                    audit_record(action="test.concurrent.write", user=user, data={"t": index})
                    user.__class__.objects.filter(pk=user.pk).update(last_login=timezone.now())
                    audit_record(action="test.concurrent.write", user=user, data={"n": n})
        except BaseException as error:  # reported by the main thread
            errors.append(error)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=write, args=(i,)) for i in range(threads_n)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert not errors, errors
    total = threads_n * per_thread * 2
    seqs = list(AuditEvent.objects.order_by("seq").values_list("seq", flat=True))
    assert seqs == list(range(1, total + 1))
    prev = list(AuditEvent.objects.order_by("seq").values_list("prev_hash", flat=True))
    assert len(set(prev)) == total  # no two events claim the same predecessor: no fork
    result = audit_chain_verify()
    assert result.ok and result.checked == total, result.problems


@pytest.mark.django_db(transaction=True)
def test_migration_chains_the_events_written_before_the_chain():
    executor = MigrationExecutor(connection)
    latest = executor.loader.graph.leaf_nodes("audit")
    executor.migrate([("audit", "0001_initial")])
    try:
        old = MigrationExecutor(connection).loader.project_state([("audit", "0001_initial")]).apps
        OldEvent = old.get_model("audit", "AuditEvent")
        base = timezone.now()
        for i in (3, 1, 2):  # inserted out of time order: the chain follows created_at
            OldEvent.objects.create(
                actor_type="system",
                action=f"old.event.e{i}",
                data={"i": i},
            )
            OldEvent.objects.filter(action=f"old.event.e{i}").update(
                created_at=base.replace(microsecond=0) + timedelta(seconds=i)
            )
    finally:
        executor = MigrationExecutor(connection)
        executor.migrate(latest)
    actions = list(AuditEvent.objects.order_by("seq").values_list("seq", "action"))
    assert actions == [(1, "old.event.e1"), (2, "old.event.e2"), (3, "old.event.e3")]
    assert audit_chain_verify().ok
    # New events continue the chain.
    assert audit_record(action="t.t.t", actor_type="system").seq == 4
    assert audit_chain_verify().ok
