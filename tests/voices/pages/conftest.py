"""Fixtures for the voices pages: the cloning engine up or down, a failed voice."""

from __future__ import annotations

import pytest
from django.utils import timezone

from synthesis.models import EngineStatusRecord
from tests.voices.helpers import make_consent, make_sample
from voices.models import Consent, Voice
from voices.services.conditioning import ENGINE_UNAVAILABLE_MESSAGE

XTTS_FIX = "Set XTTS_MODEL_DIR to a directory holding config.json, model.pth and vocab.json."


@pytest.fixture
def cloning_ready(db):
    """A live worker has the cloning engine loaded (its heartbeat is fresh)."""
    return EngineStatusRecord.objects.create(
        hostname="synthesis@test", engine="xtts", ready=True, heartbeat_at=timezone.now()
    )


@pytest.fixture
def cloning_down(db):
    """A live worker could not load the cloning engine, and says what the operator must do."""
    return EngineStatusRecord.objects.create(
        hostname="synthesis@test",
        engine="xtts",
        ready=False,
        reason="No XTTS model directory is set.",
        fix=XTTS_FIX,
        heartbeat_at=timezone.now(),
    )


def make_failed_voice(owner, name="Failed voice", *, consent_status=Consent.Status.VERIFIED):
    """A voice whose build failed because the engine was unavailable (as the worker leaves it)."""
    voice = Voice.objects.create(
        owner=owner,
        name=name,
        engine="xtts",
        status=Voice.Status.FAILED,
        failure_reason=ENGINE_UNAVAILABLE_MESSAGE,
    )
    make_sample(owner, voice=voice)
    consent = make_consent(owner)
    Consent.objects.filter(pk=consent.pk).update(voice=voice, status=consent_status)
    return voice


@pytest.fixture
def failed_voice(owner):
    return make_failed_voice(owner)
