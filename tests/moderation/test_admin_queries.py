"""Every change list of the accounts, voices and synthesis admins: searchable, filterable, and
with a number of queries that does not grow with the number of rows (no N+1)."""

from __future__ import annotations

import itertools
from datetime import date, timedelta

import pytest
from django.contrib import admin
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts import services as account_services
from accounts.models import CharacterUsage, Plan, User, UserAPIKey
from provenance.models import GenerationRecord
from synthesis.models import (
    EngineStatusRecord,
    ModelAlias,
    SynthesisBatch,
    SynthesisJob,
    WebhookDelivery,
)
from tests.factories import UserFactory
from voices.models import Consent, Flag, ProtectedVoice, Sample, Voice

pytestmark = pytest.mark.django_db

_n = itertools.count()


def _user() -> User:
    return UserFactory(email=f"row{next(_n)}@example.com", plan=Plan.objects.first())


def _voice(owner=None) -> Voice:
    owner = owner or _user()
    return Voice.objects.create(owner=owner, name=f"voice {next(_n)}", engine="xtts")


def _job(owner=None, batch=None) -> SynthesisJob:
    owner = owner or _user()
    return SynthesisJob.objects.create(
        owner=owner, voice=_voice(owner), text="Hi.", characters=3, batch=batch, error="boom"
    )


def _batch() -> SynthesisBatch:
    return SynthesisBatch.objects.create(owner=_user())


def make_plan():
    Plan.objects.create(slug=f"plan-{next(_n)}", name=f"Plan {next(_n)}")


def make_user():
    _user()


def make_key():
    account_services.api_key_create(user=_user(), name="k", scopes=["tts"])


def make_usage():
    CharacterUsage.objects.create(user=_user(), month=date(2026, 1, 1) + timedelta(days=next(_n)))


def make_voice():
    _voice()


def make_sample():
    owner = _user()
    Sample.objects.create(owner=owner, voice=_voice(owner), original_name="a.wav")


def make_consent():
    owner = _user()
    now = timezone.now()
    Consent.objects.create(
        owner=owner,
        voice=_voice(owner),
        attestation_text="I may.",
        attested_at=now,
        phrase="p",
        statement="s",
        expires_at=now,
    )


def make_flag():
    Flag.objects.create(
        kind=Flag.Kind.REPORT,
        voice=_voice(),
        reporter=_user(),
        resolved_by=_user(),
        status=Flag.Status.REJECTED,
        reason="r",
    )


def make_job():
    _job(batch=_batch())


def make_engine_status():
    EngineStatusRecord.objects.create(hostname=f"host{next(_n)}", engine="xtts", ready=True)


def make_batch():
    _batch()


def make_alias():
    ModelAlias.objects.create(name=f"alias-{next(_n)}", surface=ModelAlias.Surface.OPENAI)


def make_protected_voice():
    ProtectedVoice.objects.create(name=f"protected {next(_n)}", created_by=_user(), samples=["a"])


def make_generation_record():
    job = _job()
    deleted = next(_n) % 2 == 0  # rows of deleted accounts and voices list without a query each
    GenerationRecord.objects.create(
        job_code=job.code,
        user=None if deleted else job.owner,
        account_id=job.owner.pk,
        account_code=job.owner.code,
        voice=None if deleted else job.voice,
        voice_code=job.voice.code,
        model="xtts",
        output_format="mp3",
        fingerprint=b"\x00" * 40,
        fingerprint_version="test",
    )


def make_delivery():
    batch = _batch()
    job = _job(owner=batch.owner, batch=batch)
    WebhookDelivery.objects.create(
        owner=batch.owner,
        job=job,
        batch=batch,
        event="synthesis.job.succeeded",
        url="https://x.test/h",
    )


CHANGELISTS = {
    Plan: make_plan,
    User: make_user,
    UserAPIKey: make_key,
    CharacterUsage: make_usage,
    Voice: make_voice,
    Sample: make_sample,
    Consent: make_consent,
    Flag: make_flag,
    SynthesisJob: make_job,
    EngineStatusRecord: make_engine_status,
    SynthesisBatch: make_batch,
    WebhookDelivery: make_delivery,
    ModelAlias: make_alias,
    ProtectedVoice: make_protected_voice,
    GenerationRecord: make_generation_record,
}


def test_every_registered_model_of_these_admins_is_covered():
    ours = {
        model
        for model in admin.site._registry
        if model._meta.app_label in ("accounts", "voices", "synthesis", "provenance")
    }
    assert ours == set(CHANGELISTS)


def _queries(client, url: str) -> int:
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url)
    assert response.status_code == 200, response.content[:300]
    return len(captured)


@pytest.mark.parametrize("model", list(CHANGELISTS), ids=lambda m: m._meta.label)
def test_change_list_queries_do_not_grow_with_rows(admin_client, model):
    model_admin = admin.site._registry[model]
    assert model_admin.search_fields, "searchable"
    assert model_admin.list_filter, "filterable"
    make = CHANGELISTS[model]
    url = f"/admin/{model._meta.app_label}/{model._meta.model_name}/"
    for _ in range(2):
        make()
    few = _queries(client=admin_client, url=url)
    for _ in range(10):
        make()
    many = _queries(client=admin_client, url=url)
    assert many == few, f"{url}: {few} queries for few rows, {many} for 10 more"
    # Search and the first filter answer too (a bad field name would 500 here).
    assert admin_client.get(url, {"q": "x"}).status_code == 200
