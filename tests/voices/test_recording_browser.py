"""The recording page in Debian's chromium with a fake microphone, through the real worker."""

from __future__ import annotations

import re

import pytest
from django.test import Client

from voices.models import Sample

pytestmark = [
    pytest.mark.browser,
    pytest.mark.worker,
    pytest.mark.slow,
    pytest.mark.django_db(transaction=True),
]

FAKE_MICROPHONE = ["--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream"]


@pytest.fixture(scope="module")
def mic_browser(playwright_instance):
    """Chromium that grants the microphone without asking and feeds it a synthetic beep."""
    from tests.browser import CHROMIUM_ARGS, chromium_path

    browser = playwright_instance.chromium.launch(
        executable_path=chromium_path(), args=[*CHROMIUM_ARGS, *FAKE_MICROPHONE]
    )
    yield browser
    browser.close()


def test_record_two_seconds_upload_and_see_the_advice(
    celery_worker, live_server, mic_browser, owner
):
    client = Client()
    client.force_login(owner)
    context = mic_browser.new_context()
    context.add_cookies(
        [{"name": "sessionid", "value": client.cookies["sessionid"].value, "url": live_server.url}]
    )
    page = context.new_page()
    try:
        page.goto(live_server.url + "/voices/samples/record/")
        assert page.get_by_test_id("passage").is_visible()
        recorder = page.get_by_test_id("recorder")
        recorder.get_by_role("button", name="Record").click()
        page.wait_for_selector("[data-recorder][data-state=recording]")
        page.wait_for_timeout(2_000)
        recorder.get_by_role("button", name="Stop").click()
        page.wait_for_selector("[data-recorder][data-state=recorded]")
        assert page.locator("[data-preview]").is_visible()  # the take can be played back
        recorder.get_by_role("button", name="Upload").click()
        error = page.get_by_test_id("recorder-error")
        error.wait_for(timeout=120_000)
        text = error.inner_text()
        assert "Not accepted" in text
        assert "record at least 10 s of clear speech" in text, text
        assert recorder.get_by_role("button", name="Record again").is_enabled()
    finally:
        context.close()
    sample = Sample.objects.get(owner=owner)
    assert (sample.status, sample.error_code) == (Sample.Status.REJECTED, "too_little_speech")
    assert sample.original_name.startswith("recording.")
    assert not sample.raw


@pytest.mark.django_db(transaction=True)
def test_new_voice_flow_in_the_browser(live_server, mic_browser, owner, settings):
    """Samples → attestation → create → the voice page polls the build (no worker needed)."""
    from django.utils import timezone

    from synthesis.models import EngineStatusRecord
    from tests.voices.helpers import make_sample
    from voices.models import Consent, Voice

    settings.VOICES_CONSENT_RECORDING_REQUIRED = False  # the consent recorder is tested above
    # A worker with the cloning engine loaded: without one the page offers no build at all.
    EngineStatusRecord.objects.create(
        hostname="synthesis@test", engine="xtts", ready=True, heartbeat_at=timezone.now()
    )
    make_sample(owner, name="first take.wav")
    client = Client()
    client.force_login(owner)
    context = mic_browser.new_context()
    context.add_cookies(
        [{"name": "sessionid", "value": client.cookies["sessionid"].value, "url": live_server.url}]
    )
    page = context.new_page()
    try:
        page.goto(live_server.url + "/voices/new/")
        assert page.get_by_label("first take.wav").is_checked()
        create = page.get_by_role("button", name="Create voice")
        assert create.is_disabled()
        page.locator("[data-attest]").check()
        page.get_by_role("button", name="Confirm").click()
        page.get_by_text("your attestation is recorded").wait_for()
        page.get_by_label("Name").fill("Browser voice")
        page.get_by_label("Language").select_option("en")
        create.click()
        page.wait_for_url(re.compile(r"/voices/[0-9a-f-]{36}/$"))
        assert "Browser voice" in page.content()
        status = page.get_by_test_id("voice-status").inner_text()
        assert status in ("Building", "Ready", "Failed")
    finally:
        context.close()
    voice = Voice.objects.get(owner=owner, name="Browser voice")
    assert voice.language == "en"
    assert Consent.objects.get(voice=voice).attested_ip == "127.0.0.1"
