from django.db import migrations

from audit.chain import GENESIS, HASHED_FIELDS, event_hash

BATCH = 1000


def chain_existing(apps, schema_editor):
    """Give the events written before the chain a position and a hash, oldest first."""
    AuditEvent = apps.get_model("audit", "AuditEvent")
    rows = AuditEvent.objects.order_by("created_at", "id")
    prev, seq, pending = GENESIS, 0, []
    for event in rows.iterator(chunk_size=BATCH):
        seq += 1
        event.seq, event.prev_hash = seq, prev
        event.hash = event_hash({name: getattr(event, name) for name in HASHED_FIELDS})
        prev = event.hash
        pending.append(event)
        if len(pending) >= BATCH:
            AuditEvent.objects.bulk_update(pending, ["seq", "prev_hash", "hash"])
            pending = []
    if pending:
        AuditEvent.objects.bulk_update(pending, ["seq", "prev_hash", "hash"])


class Migration(migrations.Migration):
    """Runs before the triggers that refuse UPDATE exist (0004)."""

    dependencies = [("audit", "0002_chain_fields")]

    operations = [migrations.RunPython(chain_existing, migrations.RunPython.noop)]
