"""Builders for synthesis API tests that need no worker: jobs in the states a worker leaves."""

from __future__ import annotations

import random
import uuid

from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from rest_framework.test import APIClient

from accounts.models import Plan
from synthesis.jobs import services
from synthesis.models import SynthesisJob
from tests.factories import UserFactory
from tests.voices.helpers import key_client, make_ready_voice  # noqa: F401  (re-exported)

AUDIO = bytes(range(256)) * 40  # 10,240 bytes that make every byte range easy to check


def plan(**limits) -> Plan:
    """A plan with the given limits (the rest generous) under a fresh slug."""
    values = {
        "monthly_characters": 1_000_000,
        "voice_slots": 10,
        "concurrent_jobs": 100,
        "max_upload_mb": 20,
        "retention_days": 30,
        "storage_mb": 1024,
        **limits,
    }
    return Plan.objects.create(slug=f"p-{uuid.uuid4().hex[:8]}", name="Test plan", **values)


def user_on(plan_: Plan, **kwargs):
    return UserFactory(plan=plan_, **kwargs)


def session_client(user) -> APIClient:
    client = APIClient()
    client.force_login(user)
    return client


def random_ip() -> str:
    """A fresh client address, so rate-limit buckets of earlier runs never interfere."""
    return f"10.{random.randint(0, 255)}.{random.randint(0, 255)}.{random.randint(1, 254)}"


def job_request(owner, voice, text="Hello there.", **kwargs) -> SynthesisJob:
    return services.job_create(owner=owner, voice=voice, text=text, **kwargs)


def job_finish(job: SynthesisJob, *, audio: bytes = AUDIO, worker="test-worker") -> SynthesisJob:
    """Run the worker's end of a job without a worker: claim it, store audio, succeed."""
    claimed = services.job_claim(job_id=job.pk, worker=worker)
    assert claimed is not None, job.status
    name = default_storage.save(
        f"synthesis/{job.owner.code}/{job.code}.{job.output_format}", ContentFile(audio)
    )
    assert services.job_succeed(
        job=claimed, audio_name=name, audio_seconds=1.5, compute_seconds=0.5
    )
    claimed.refresh_from_db()
    return claimed


def job_fail(job: SynthesisJob, *, worker="test-worker", error="It broke.") -> SynthesisJob:
    claimed = services.job_claim(job_id=job.pk, worker=worker)
    services.job_fail(job=claimed, error=error, compute_seconds=0.1)
    claimed.refresh_from_db()
    return claimed


def body(text="Hello there.", voice=None, **extra) -> dict:
    return {"text": text, "voice": str(voice.code), **extra}
