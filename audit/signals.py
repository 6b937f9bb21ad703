"""Every admin action is audited: each LogEntry Django's admin writes is mirrored as one event.

LogEntry rows are saved one by one (post_save), except that the admin writes several at once
with bulk_create (deleting many objects with the "delete selected" action), which sends no
signal: `mirror_bulk_log_entries` wraps LogEntryManager.log_actions for that path.
"""

from __future__ import annotations

import functools

from django.contrib.admin.models import ADDITION, CHANGE, DELETION, LogEntry, LogEntryManager
from django.db.models.signals import post_save

from audit.models import AuditEvent
from audit.services import audit_record

VERBS = {ADDITION: "added", CHANGE: "changed", DELETION: "deleted"}


def audit_log_entry(entry: LogEntry) -> None:
    if getattr(entry, "_audited", False):
        return
    entry._audited = True
    content_type = entry.content_type
    model = f"{content_type.app_label}.{content_type.model}" if content_type else "unknown"
    audit_record(
        action=f"admin.{model}.{VERBS.get(entry.action_flag, 'acted')}"[:100],
        user=entry.user,
        actor_type=AuditEvent.ActorType.ADMIN,
        target_type=model,
        target_id=str(entry.object_id or "")[:100],
        data={
            "repr": entry.object_repr,
            "change_message": entry.get_change_message(),
            "log_entry": entry.pk,
        },
    )


def on_log_entry_saved(sender, instance: LogEntry, created: bool, raw: bool = False, **kwargs):
    if created and not raw:
        audit_log_entry(instance)


def mirror_bulk_log_entries() -> None:
    """Audit the entries LogEntryManager.log_actions writes with bulk_create (no signal)."""
    original = LogEntryManager.log_actions
    if getattr(original, "_audited", False):
        return

    @functools.wraps(original)
    def log_actions(self, *args, **kwargs):
        result = original(self, *args, **kwargs)
        entries = [e for e in (result if isinstance(result, list) else [result]) if e]
        users = {}  # one admin behind all of them: fetched once, not per entry
        for entry in entries:
            if isinstance(entry, LogEntry) and not getattr(entry, "_audited", False):
                if entry.user_id not in users:
                    users[entry.user_id] = entry.user
                entry.user = users[entry.user_id]
                audit_log_entry(entry)
        return result

    log_actions._audited = True
    LogEntryManager.log_actions = log_actions


def connect() -> None:
    post_save.connect(on_log_entry_saved, sender=LogEntry, dispatch_uid="audit_log_entry")
    mirror_bulk_log_entries()
