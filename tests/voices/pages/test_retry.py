"""Voice detail: a failed build can be retried by its owner, and holds no voice slot."""

from __future__ import annotations

import pytest

from accounts.models import Plan
from audit.models import AuditEvent
from tests.support.tasks import task_spy
from tests.voices.helpers import make_consent, make_ready_voice, make_sample
from tests.voices.pages.conftest import XTTS_FIX, make_failed_voice
from voices import selectors, services
from voices.models import Consent, Voice

pytestmark = pytest.mark.django_db


def test_retry_requeues_the_build_and_is_audited(
    client, owner, failed_voice, cloning_ready, django_capture_on_commit_callbacks
):
    client.force_login(owner)
    page = client.get(f"/voices/{failed_voice.code}/").content.decode()
    assert 'data-testid="retry"' in page and 'data-testid="retry-why"' not in page
    with (
        task_spy("voices.tasks.voice_conditioning_compute") as build,
        django_capture_on_commit_callbacks(execute=True),
    ):
        response = client.post(f"/voices/{failed_voice.code}/retry/")
    assert response.status_code == 302
    assert response["Location"] == f"/voices/{failed_voice.code}/"
    failed_voice.refresh_from_db()
    assert (failed_voice.status, failed_voice.failure_reason) == (Voice.Status.BUILDING, "")
    assert failed_voice.build_dispatched_at is not None
    build.assert_called_once()
    assert build.call_args.kwargs["voice_id"] == failed_voice.pk
    event = AuditEvent.objects.get(action="voices.voice.build_retried")
    assert (event.target_id, event.actor_user_id) == (str(failed_voice.code), owner.pk)
    assert event.data["previous_failure"].startswith("Voice cloning is not available")


def test_retry_of_an_unverified_consent_runs_the_consent_check_first(
    owner, cloning_ready, django_capture_on_commit_callbacks
):
    voice = make_failed_voice(owner, consent_status=Consent.Status.RECORDED)
    with (
        task_spy("voices.tasks.sample_consent_verify") as verify,
        django_capture_on_commit_callbacks(execute=True),
    ):
        services.voice_build_retry(user=owner, voice=voice)
    verify.assert_called_once()


def test_stranger_gets_404_on_detail_and_retry(client, stranger, failed_voice, cloning_ready):
    client.force_login(stranger)
    assert client.get(f"/voices/{failed_voice.code}/").status_code == 404
    assert client.post(f"/voices/{failed_voice.code}/retry/").status_code == 404
    failed_voice.refresh_from_db()
    assert failed_voice.status == Voice.Status.FAILED
    assert not AuditEvent.objects.filter(action="voices.voice.build_retried").exists()


def test_retry_is_refused_while_cloning_is_unavailable(client, owner, failed_voice, cloning_down):
    client.force_login(owner)
    page = client.get(f"/voices/{failed_voice.code}/").content.decode()
    assert 'data-testid="retry" disabled' in page
    assert "Voice cloning is not available on this server yet." in page
    assert XTTS_FIX not in page  # the operator's fix is for staff only
    response = client.post(f"/voices/{failed_voice.code}/retry/", follow=True)
    assert response.status_code == 200
    failed_voice.refresh_from_db()
    assert failed_voice.status == Voice.Status.FAILED


def test_staff_sees_the_operator_fix_on_a_failed_voice(client, owner, failed_voice, cloning_down):
    owner.is_staff = True
    owner.save(update_fields=["is_staff"])
    client.force_login(owner)
    page = client.get(f"/voices/{failed_voice.code}/").content.decode()
    assert 'data-testid="operator-fix"' in page and XTTS_FIX in page


def test_a_voice_whose_consent_did_not_match_cannot_be_retried(client, owner, cloning_ready):
    voice = make_failed_voice(owner, consent_status=Consent.Status.MISMATCH)
    client.force_login(owner)
    page = client.get(f"/voices/{voice.code}/").content.decode()
    assert "administrator is reviewing" in page and 'data-testid="retry" disabled' in page
    client.post(f"/voices/{voice.code}/retry/")
    voice.refresh_from_db()
    assert voice.status == Voice.Status.FAILED


def test_a_failed_voice_holds_no_slot(client, owner, failed_voice, cloning_ready):
    owner.plan = Plan.objects.create(slug="one", name="One voice", voice_slots=1)
    owner.save(update_fields=["plan"])
    assert selectors.voice_slots_used(user=owner) == 0
    client.force_login(owner)
    assert "You use 0 of your 1 voice slots" in client.get("/voices/").content.decode()
    # the slot is free for a new voice...
    samples, consent = [make_sample(owner)], make_consent(owner)
    voice = services.voice_create(
        owner=owner,
        name="New one",
        sample_codes=[s.code for s in samples],
        consent_code=consent.code,
    )
    assert selectors.voice_slots_used(user=owner) == 1
    # ...and then retrying the failed one would exceed the plan: refused with a reason.
    page = client.get(f"/voices/{failed_voice.code}/").content.decode()
    assert "All your voice slots are in use" in page
    client.post(f"/voices/{failed_voice.code}/retry/")
    failed_voice.refresh_from_db()
    assert failed_voice.status == Voice.Status.FAILED
    assert voice.status == Voice.Status.BUILDING


def test_ready_voice_page_names_language_and_engine_and_links_to_speak(client, owner):
    voice = make_ready_voice(owner, "Lecteur", language="fr")
    client.force_login(owner)
    page = client.get(f"/voices/{voice.code}/").content.decode()
    assert "French" in page and "XTTS v2" in page
    assert f'href="/speak/?voice={voice.code}"' in page
    assert 'data-confirm="Delete the voice Lecteur' in page
    assert 'data-testid="retry"' not in page


def test_an_old_failure_reason_with_the_operator_fix_is_shown_to_staff_only(
    client, owner, failed_voice
):
    Voice.objects.filter(pk=failed_voice.pk).update(
        failure_reason=f"The speech engine is unavailable: No model. Fix: {XTTS_FIX}"
    )
    client.force_login(owner)
    page = client.get(f"/voices/{failed_voice.code}/").content.decode()
    assert XTTS_FIX not in page and "Voice cloning is not available on this server yet" in page
    owner.is_staff = True
    owner.save(update_fields=["is_staff"])
    assert XTTS_FIX in client.get(f"/voices/{failed_voice.code}/").content.decode()
