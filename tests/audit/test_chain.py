"""The audit log's hash chain: written by audit_record, checked by `manage.py audit_verify`.

Tampering is done the way an intruder with database access would: raw SQL. On PostgreSQL the
table's triggers refuse that, so those tests step around them with pgtrigger.ignore, exactly as
someone who can drop the triggers could.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import uuid
from datetime import timedelta

import pgtrigger
import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.utils import timezone

from audit.chain import HASHED_FIELDS, canonical, event_hash
from audit.models import AuditEvent
from audit.services import audit_record
from audit.verify import EDITED, INSERTED, MISSING, audit_chain_verify
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

TABLE = AuditEvent._meta.db_table


def _tamper(*statements: tuple[str, list]) -> None:
    """Raw SQL on the audit table, `{table}` standing for its name (PostgreSQL: with its
    triggers stepped around)."""
    guard = (
        pgtrigger.ignore("audit.AuditEvent:audit_event_append_only")
        if connection.vendor == "postgresql"
        else contextlib.nullcontext()
    )
    with guard, connection.cursor() as cursor:
        for sql, params in statements:
            cursor.execute(sql.replace("{table}", TABLE), params)


def _events(n: int, **kwargs) -> list[AuditEvent]:
    return [
        audit_record(action=f"test.event.e{i}", actor_type="system", data={"i": i}, **kwargs)
        for i in range(n)
    ]


def _verify(*args) -> tuple[int, str, str]:
    """Run the command: (exit code, stdout, stderr)."""
    from io import StringIO

    out, err = StringIO(), StringIO()
    try:
        call_command("audit_verify", *args, stdout=out, stderr=err)
        code = 0
    except CommandError as error:
        code = error.returncode
        err.write(str(error))
    return code, out.getvalue(), err.getvalue()


def test_events_form_a_chain():
    user = UserFactory()
    first, second = _events(2)
    third = audit_record(action="t.t.t", user=user, data={"b": 1})
    assert [first.seq, second.seq, third.seq] == [1, 2, 3]
    assert first.prev_hash == ""
    assert second.prev_hash == first.hash and third.prev_hash == second.hash
    # The stored hash is SHA-256 of the canonical JSON of the row as read back.
    stored = AuditEvent.objects.values(*HASHED_FIELDS).get(pk=third.pk)
    assert third.hash == hashlib.sha256(canonical(stored)).hexdigest() == event_hash(stored)
    assert json.loads(canonical(stored))["actor_user_id"] == user.pk
    assert audit_chain_verify().ok


def test_canonical_form_ignores_key_order_and_representation():
    base = {
        "seq": 5,
        "code": uuid.uuid4(),
        "created_at": timezone.now(),
        "action": "a.b.c",
        "ip": "2001:0db8:0000::1",
        "data": {"b": [1, 2], "a": {"y": 1, "x": "é"}},
        "prev_hash": "f" * 64,
    }
    reordered = {**base, "data": {"a": {"x": "é", "y": 1}, "b": (1, 2)}, "ip": "2001:db8::1"}
    assert event_hash(base) == event_hash(reordered)
    assert event_hash(base) != event_hash({**base, "data": {"b": [2, 1], "a": {"y": 1}}})
    later = {**base, "created_at": base["created_at"] + timedelta(microseconds=1)}
    assert event_hash(base) != event_hash(later)


def test_verify_succeeds_quietly_on_an_intact_chain():
    _events(5)
    code, out, err = _verify()
    assert code == 0
    assert out.strip() == "audit chain intact: 5 events checked (#1-#5)"
    assert err == ""


def test_verify_names_an_edited_a_deleted_and_an_inserted_event():
    events = _events(8)
    edited, deleted = events[2], events[5]
    _tamper(
        ("UPDATE {table} SET actor_label = %s WHERE id = %s", ["someone else", edited.pk]),
        ("DELETE FROM {table} WHERE id = %s", [deleted.pk]),
    )
    # A forged row appended by hand: its own hash made up, its link to the tail wrong.
    AuditEvent.objects.create(
        seq=9,
        created_at=timezone.now(),
        actor_type="system",
        action="test.event.forged",
        prev_hash="0" * 64,
        hash="1" * 64,
    )

    result = audit_chain_verify()
    found = {(p.kind, p.seq) for p in result.problems}
    assert found == {(EDITED, 3), (MISSING, 6), (INSERTED, 9)}, result.problems

    code, out, err = _verify()
    assert code == 1
    assert out == ""
    assert f"edited #3 (id {edited.pk}, test.event.e2)" in err
    assert "missing #6: 1 event(s) deleted between #5 and #7" in err
    assert "inserted #9" in err and "test.event.forged" in err
    assert "1 edited, 1 inserted, 1 missing in 8 events checked" in err


def test_a_rehashed_edit_still_breaks_the_next_link():
    events = _events(4)
    target = events[1]
    fields = AuditEvent.objects.values(*HASHED_FIELDS).get(pk=target.pk)
    fields["action"] = "test.event.rewritten"
    _tamper(
        (
            "UPDATE {table} SET action = %s, hash = %s WHERE id = %s",
            [fields["action"], event_hash(fields), target.pk],
        )
    )
    problems = audit_chain_verify().problems
    assert [(p.kind, p.seq) for p in problems] == [(INSERTED, 3)]
    assert "#2 was replaced" in problems[0].detail


def test_deleting_the_first_events_is_missing_from_one():
    events = _events(3)
    _tamper(("DELETE FROM {table} WHERE id IN (%s, %s)", [events[0].pk, events[1].pk]))
    problems = audit_chain_verify().problems
    assert [(p.kind, p.seq, p.last_seq) for p in problems] == [(MISSING, 1, 2)]


def test_since_and_batches_check_the_same_chain():
    events = _events(12)
    _tamper(("UPDATE {table} SET data = %s WHERE id = %s", ['{"i": 99}', events[9].pk]))
    whole = audit_chain_verify(batch_size=5)
    assert whole.checked == 12 and [(p.kind, p.seq) for p in whole.problems] == [(EDITED, 10)]
    tail = audit_chain_verify(since=8, batch_size=2)
    assert (tail.checked, tail.first_seq) == (5, 8)
    assert [(p.kind, p.seq) for p in tail.problems] == [(EDITED, 10)]
    assert audit_chain_verify(since=11).ok
    # A moment: from the first event at or after it.
    code, out, _ = _verify("--since", events[10].created_at.isoformat(), "--batch-size", "1")
    assert (code, out.strip()) == (0, "audit chain intact: 2 events checked (#11-#12)")


def test_since_checks_the_link_into_the_window():
    events = _events(5)
    _tamper(("DELETE FROM {table} WHERE id = %s", [events[2].pk]))
    # Starting right after the hole still sees it: the window's first event must follow on.
    assert [(p.kind, p.seq) for p in audit_chain_verify(since=4).problems] == [(MISSING, 3)]


@pytest.mark.parametrize("value", ["yesterday", "-3", "2026-13-40"])
def test_bad_since_is_a_clear_error(value):
    with pytest.raises(CommandError, match="--since"):
        call_command("audit_verify", "--since", value)


def test_verify_on_an_empty_log():
    code, out, _ = _verify()
    assert (code, out.strip()) == (0, "audit chain intact: 0 events checked (no events)")
