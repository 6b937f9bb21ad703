"""Provenance models: the generation registry.

One `GenerationRecord` per synthesis output, written by the synthesis worker when the output is
encoded (provenance.registry.registry_record). It outlives the output (retention deletes the
audio, not the record), the voice and the account: both are SET_NULL, and the record keeps their
public codes. It keeps no email: when an account is deleted, its email survives only in the
audit log's `accounts.user.deleted` event (target_id = the account code), which is where the
admin looks it up (provenance.admin does that for them).
"""

from __future__ import annotations

import numpy as np
from django.conf import settings
from django.db import models


class GenerationRecord(models.Model):
    job_code = models.UUIDField(unique=True, help_text="The synthesis job's public id.")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="generation_records",
    )
    # Kept after the account is deleted (the FK goes null): the account's id and public code.
    account_id = models.PositiveBigIntegerField(null=True, blank=True, db_index=True)
    account_code = models.UUIDField(null=True, blank=True, db_index=True)
    voice = models.ForeignKey(
        "voices.Voice",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="generation_records",
    )
    voice_code = models.UUIDField(null=True, blank=True, db_index=True)
    model = models.CharField(max_length=64, blank=True, help_text="The engine that spoke it.")
    output_format = models.CharField(max_length=8, blank=True)
    duration_seconds = models.FloatField(null=True, blank=True)
    # Chromaprint raw items (uint32, little-endian, 4 bytes each); see provenance.registry for
    # how the audio is prepared (FINGERPRINT_VERSION names that recipe).
    fingerprint = models.BinaryField()
    fingerprint_version = models.CharField(max_length=32)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"Output of job {self.job_code}"

    @property
    def items(self) -> list[int]:
        """The fingerprint as a list of unsigned 32-bit ints."""
        return np.frombuffer(bytes(self.fingerprint), dtype="<u4").tolist()


class GenerationKey(models.Model):
    """The candidate index: a bounded set of one record's fingerprint items (as signed 32-bit
    ints, so any database's integer column holds them). A lookup finds records that share items
    with the query here, and compares only those in full."""

    record = models.ForeignKey(GenerationRecord, on_delete=models.CASCADE, related_name="keys")
    key = models.IntegerField()

    class Meta:
        # (key, record): the lookup's index is this constraint's.
        constraints = [
            models.UniqueConstraint(fields=["key", "record"], name="generation_key_unique")
        ]

    def __str__(self) -> str:
        return f"{self.key} -> {self.record_id}"
