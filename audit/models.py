"""The append-only, hash-chained audit log, and the alerts its verification raises."""

import uuid

import pgtrigger
from django.conf import settings
from django.db import models


class AuditEvent(models.Model):
    """One audited action. Written only by `audit.services.audit_record`, never changed.

    `seq` is the event's position in the hash chain and `hash` the SHA-256 of its canonical form
    plus `prev_hash` (see audit.chain). On PostgreSQL triggers refuse UPDATE, DELETE and TRUNCATE
    of the table.
    """

    class ActorType(models.TextChoices):
        USER = "user", "User"
        API_KEY = "api_key", "API key"
        SYSTEM = "system", "System"
        ADMIN = "admin", "Admin"
        ANONYMOUS = "anonymous", "Anonymous"

    seq = models.PositiveBigIntegerField(unique=True, editable=False)
    code = models.UUIDField(default=uuid.uuid4, editable=False, unique=True)
    created_at = models.DateTimeField(db_index=True, editable=False)
    actor_type = models.CharField(max_length=16, choices=ActorType.choices)
    # No database constraint and DO_NOTHING: deleting a user touches no audit row. The id stays
    # (it may point at nobody) and actor_label keeps who it was.
    actor_user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        related_name="audit_events",
    )
    actor_label = models.CharField(max_length=255, blank=True)
    api_key_id = models.CharField(max_length=150, blank=True)
    action = models.CharField(max_length=100, db_index=True)
    target_type = models.CharField(max_length=100, blank=True)
    target_id = models.CharField(max_length=100, blank=True)
    ip = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=512, blank=True)
    request_id = models.CharField(max_length=64, blank=True)
    data = models.JSONField(default=dict, blank=True)
    prev_hash = models.CharField(max_length=64, blank=True, editable=False)
    hash = models.CharField(max_length=64, editable=False)

    class Meta:
        ordering = ["-seq"]
        indexes = [
            models.Index(fields=["actor_user", "-created_at"]),
            models.Index(fields=["target_type", "target_id"]),
        ]
        triggers = [
            pgtrigger.Protect(
                name="audit_event_append_only",
                operation=pgtrigger.Update | pgtrigger.Delete,
            ),
            pgtrigger.Trigger(
                name="audit_event_no_truncate",
                level=pgtrigger.Statement,
                when=pgtrigger.Before,
                operation=pgtrigger.Truncate,
                func="RAISE EXCEPTION 'pgtrigger: Cannot truncate the % table', TG_TABLE_NAME;",
            ),
        ]

    def __str__(self) -> str:
        return f"#{self.seq} {self.created_at:%Y-%m-%d %H:%M} {self.action} by {self.actor_label}"

    def save(self, *args, **kwargs):
        if self.pk is not None:
            raise ValueError("Audit events are append-only.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise ValueError("Audit events are append-only.")


class AuditAlert(models.Model):
    """A failed verification of the chain, shown to admins until one of them resolves it.

    One open alert at a time: a later failing run updates it (last_seen_at, runs, problems).
    """

    opened_at = models.DateTimeField(auto_now_add=True)
    last_seen_at = models.DateTimeField()
    runs = models.PositiveIntegerField(default=1, help_text="Failing verifications seen.")
    summary = models.CharField(max_length=255)
    problems = models.JSONField(default=list, blank=True)
    is_open = models.BooleanField(default=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    resolution = models.TextField(blank=True)

    class Meta:
        ordering = ["-opened_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["is_open"], condition=models.Q(is_open=True), name="audit_one_open_alert"
            )
        ]

    def __str__(self) -> str:
        state = "open" if self.is_open else "resolved"
        return f"Audit chain alert ({state}) {self.opened_at:%Y-%m-%d %H:%M}: {self.summary}"


class AuditCheckpoint(models.Model):
    """The end of the chain as the last successful verification saw it (one row).

    A chain cannot show that its newest events were cut off; the next verification can, by
    finding this event again, unchanged.
    """

    seq = models.PositiveBigIntegerField()
    hash = models.CharField(max_length=64)
    verified_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"#{self.seq} verified {self.verified_at:%Y-%m-%d %H:%M}"
