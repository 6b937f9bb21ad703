"""The intake service in-process (the worker test runs the whole corpus through a real worker)."""

from __future__ import annotations

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage

from audit.models import AuditEvent
from voices import services
from voices.models import Sample

pytestmark = pytest.mark.django_db


def _upload(owner, content: bytes, name: str) -> Sample:
    sample = services.sample_create(owner=owner, upload=ContentFile(content, name=name))
    Sample.objects.filter(pk=sample.pk).update(status=Sample.Status.PROCESSING)
    return sample


def test_bad_input_is_rejected_and_leaves_nothing_in_storage(
    owner, django_capture_on_commit_callbacks
):
    sample = _upload(owner, b"Dear diary, not audio at all.\n" * 40, "notes.wav")
    raw = sample.raw.name
    assert default_storage.exists(raw)
    with django_capture_on_commit_callbacks(execute=True):
        services.sample_intake_run(sample_id=sample.pk)
    sample.refresh_from_db()
    assert (sample.status, sample.error_code) == (Sample.Status.REJECTED, "not_audio")
    assert "not an audio file" in sample.error_message
    assert not sample.raw and not default_storage.exists(raw)
    event = AuditEvent.objects.get(action="voices.sample.rejected")
    assert event.actor_type == AuditEvent.ActorType.SYSTEM and event.data["code"] == "not_audio"


def test_intake_is_idempotent(owner):
    sample = _upload(owner, b"", "empty.wav")
    services.sample_intake_run(sample_id=sample.pk)
    services.sample_intake_run(sample_id=sample.pk)  # a redelivered task
    services.sample_intake_run(sample_id=987_654)  # a sample deleted meanwhile
    sample.refresh_from_db()
    assert (sample.status, sample.error_code) == (Sample.Status.REJECTED, "not_audio")
    assert AuditEvent.objects.filter(action="voices.sample.rejected").count() == 1


def test_an_unexpected_failure_rejects_instead_of_hanging(owner, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("decoder exploded")

    monkeypatch.setattr("voices.audio.intake.intake", broken)
    sample = _upload(owner, b"RIFF", "x.wav")
    services.sample_intake_run(sample_id=sample.pk)
    sample.refresh_from_db()
    assert (sample.status, sample.error_code) == (Sample.Status.REJECTED, "processing_failed")
    assert "decoder exploded" not in sample.error_message  # no internals shown to the user
