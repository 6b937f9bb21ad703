"""The flag queue: consent mismatches and users' reports land in it; admins approve (the voice
may be used) or reject (the voice is blocked), each with exactly one audit event."""

from __future__ import annotations

import pytest

from tests.moderation.support import error_of, events, run_admin_action
from tests.support.tasks import task_spy
from tests.voices.helpers import (
    key_client,
    make_consent,
    make_ready_voice,
    make_sample,
    make_stock_voice,
)
from voices import services
from voices.models import Consent, Flag, Voice

pytestmark = pytest.mark.django_db


@pytest.fixture
def mismatched(owner):
    voice = Voice.objects.create(owner=owner, name="Pending", status=Voice.Status.BUILDING)
    make_sample(owner, voice=voice)
    consent = make_consent(owner)
    Consent.objects.filter(pk=consent.pk).update(voice=voice)
    services.consent_verification_record(
        consent_id=consent.pk, matched=False, score=0.41, threshold=0.75
    )
    voice.refresh_from_db()
    return voice


def test_a_consent_mismatch_raises_a_flag(mismatched):
    [flag] = Flag.objects.all()
    assert (flag.kind, flag.status, flag.voice) == ("consent_mismatch", "open", mismatched)
    assert flag.details["score"] == 0.41
    [event] = events("voices.consent.mismatch")
    assert event.data["flag"] == str(flag.code)


def test_approving_a_mismatch_overrides_it_and_builds(
    mismatched, admin_client, admin_user, django_capture_on_commit_callbacks
):
    flag = Flag.objects.get()
    with (
        task_spy("voices.tasks.voice_conditioning_compute") as build,
        django_capture_on_commit_callbacks(execute=True),
    ):
        response = run_admin_action(
            admin_client, "voices/flag", "approve", [flag.pk], note="Same person, bad mic"
        )
    assert response.status_code == 302
    build.assert_called_once()
    flag.refresh_from_db()
    mismatched.refresh_from_db()
    assert (flag.status, flag.resolved_by) == ("approved", admin_user)
    assert (mismatched.status, mismatched.flagged) == (Voice.Status.BUILDING, False)
    assert mismatched.consent.status == Consent.Status.OVERRIDDEN
    [event] = events("voices.consent.overridden")
    assert event.data["flags"] == [str(flag.code)]
    assert not events("voices.flag.approved")  # one event for the one action


def test_the_voice_admins_override_closes_the_flag_too(mismatched, admin_client):
    with task_spy("voices.tasks.voice_conditioning_compute"):
        run_admin_action(admin_client, "voices/voice", "approve_override", [mismatched.pk])
    assert Flag.objects.get().status == "approved"


def test_rejecting_blocks_the_voice_with_the_note(mismatched, admin_client, admin_user):
    flag = Flag.objects.get()
    response = run_admin_action(
        admin_client, "voices/flag", "reject", [flag.pk], note="Not the owner's voice"
    )
    assert response.status_code == 302
    flag.refresh_from_db()
    mismatched.refresh_from_db()
    assert flag.status == "rejected"
    assert (mismatched.blocked_reason, mismatched.blocked_by) == (
        "Not the owner's voice",
        admin_user,
    )
    [event] = events("voices.flag.rejected", target_id=str(flag.code))
    assert event.data["blocked"] is True
    assert not events("voices.voice.blocked")
    # A resolved flag is not resolved twice.
    again = run_admin_action(admin_client, "voices/flag", "approve", [flag.pk], note="")
    assert again.status_code == 302
    assert not events("voices.flag.approved")


def test_users_report_a_voice_and_admins_dismiss_it(owner, admin_client):
    stock = make_stock_voice()
    client = key_client(owner, ["voices:write"])
    url = f"/api/v1/voices/{stock.code}/report"
    created = client.post(url, {"reason": "Sounds like my neighbour"}, format="json")
    assert created.status_code == 201, created.content
    again = client.post(url, {"reason": "Still"}, format="json")
    assert again.json()["id"] == created.json()["id"]
    flag = Flag.objects.get()
    assert (flag.kind, flag.reporter, flag.reason) == ("report", owner, "Sounds like my neighbour")
    assert len(events("voices.voice.reported", target_id=str(stock.code))) == 1

    queue = admin_client.get("/admin/voices/flag/?status__exact=open")
    assert "Sounds like my neighbour" in queue.content.decode()
    run_admin_action(admin_client, "voices/flag", "approve", [flag.pk], note="Fine")
    flag.refresh_from_db()
    stock.refresh_from_db()
    assert flag.status == "approved" and stock.blocked_at is None
    assert len(events("voices.flag.approved", target_id=str(flag.code))) == 1


def test_report_refusals(owner, stranger):
    theirs = make_ready_voice(stranger, "Theirs")
    client = key_client(owner, ["voices:write"])
    hidden = client.post(f"/api/v1/voices/{theirs.code}/report", {"reason": "x"}, format="json")
    assert hidden.status_code == 404
    stock = make_stock_voice()
    empty = client.post(f"/api/v1/voices/{stock.code}/report", {"reason": " "}, format="json")
    assert empty.status_code == 400
    assert error_of(empty)["code"] in ("invalid_request", "reason_required")
    read_only = key_client(owner, ["voices:read"])
    scoped = read_only.post(f"/api/v1/voices/{stock.code}/report", {"reason": "x"}, format="json")
    assert scoped.status_code == 403
    assert not Flag.objects.exists()
