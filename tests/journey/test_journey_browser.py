"""The whole journey of a new user, in Debian's chromium against a live server with a real worker
(tiny random-weight XTTS): sign up → verify → upload → quality report → spoken consent → voice
ready → speak with live progress → waveform → seek → download → history → mix two voices →
usage chart → API key created, copied and revoked.

The consent statement is "spoken" through chromium's fake microphone, which plays a WAV file of
the same synthetic speaker as the uploaded sample (tests/voices/corpus.py).
"""

from __future__ import annotations

import re
import socket
from pathlib import Path

import pytest
from django.core import mail
from django.core.cache import cache
from django.utils import timezone
from playwright.sync_api import expect

from accounts.models import User, UserAPIKey
from synthesis.models import EngineStatusRecord, SynthesisJob
from tests.browser import CHROMIUM_ARGS, chromium_path
from tests.studio.browser_support import watch_result
from tests.support.waiting import wait_for
from tests.voices.corpus import cached_corpus
from voices.models import Consent, Voice
from voices.selectors import cloning_status
from voices.services.conditioning import conditioning_load, conditioning_store

pytestmark = [
    pytest.mark.browser,
    pytest.mark.worker,
    pytest.mark.slow,
    pytest.mark.django_db(transaction=True),
]

PASSWORD = "a-Long-pass-phrase-42"
EMAIL = "journey@example.com"
WAIT = 240_000  # ms: a build or a job on a loaded 2-core machine
# Two paragraphs: two chunks. Short (<= 300 characters), so the studio streams it.
SPEECH = "My own voice, on my own server.\n\nThe journey ends with a download."


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> dict[str, Path]:
    return cached_corpus(tmp_path_factory.getbasetemp() / "voices-corpus")


@pytest.fixture
def journey_page(playwright_instance, corpus, live_server):
    """A chromium whose microphone plays the consent take, with clipboard access granted."""
    cache.clear()  # sign-up and login limits count per IP in the cache, across earlier tests
    browser = playwright_instance.chromium.launch(
        executable_path=chromium_path(),
        args=[
            *CHROMIUM_ARGS,
            "--use-fake-ui-for-media-stream",
            "--use-fake-device-for-media-stream",
            f"--use-file-for-fake-audio-capture={corpus['spk_m3_b']}",
        ],
    )
    context = browser.new_context(accept_downloads=True)
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=live_server.url)
    page = context.new_page()
    page.set_default_timeout(30_000)
    yield page
    context.close()
    browser.close()


def _sign_up(page, base: str) -> User:
    page.goto(base)
    page.get_by_role("link", name="Sign up").first.click()
    page.fill("input[name=email]", EMAIL)
    page.fill("input[name=password1]", PASSWORD)
    page.fill("input[name=password2]", PASSWORD)
    page.locator("main form button[type=submit]").last.click()
    page.wait_for_load_state()
    link = re.search(r"https?://[^/\s]+(/accounts/confirm-email/[^\s]+/)", mail.outbox[-1].body)
    page.goto(base + link.group(1))
    page.locator("main form button[type=submit]").click()
    page.wait_for_url(re.compile(r"/dashboard/$"))
    return User.objects.get(email=EMAIL)


def _upload_sample(page, base: str, path: Path) -> None:
    page.goto(base + "/voices/samples/")
    page.set_input_files("input[type=file]", str(path))
    page.locator("main form button[type=submit]", has_text="Upload").first.click()
    page.wait_for_load_state()
    # The intake runs on the worker; the sample page shows its quality report when done.
    page.get_by_text(re.compile(r"Ready|ready")).first.wait_for(timeout=WAIT)


def _cloning_reported_ready(worker) -> None:
    """The worker's engine status says cloning works, as the pages read it.

    The worker publishes its record when it starts and then only refreshes it: an earlier test's
    database flush removes it, so it is written back here as the worker wrote it (its name, the
    engine it loaded); the worker's heartbeat keeps it fresh from then on.
    """
    EngineStatusRecord.objects.update_or_create(
        hostname=worker.name.replace("%h", socket.gethostname()),
        engine="xtts",
        defaults={"ready": True, "heartbeat_at": timezone.now(), "reason": "", "fix": ""},
    )

    def ready() -> bool:
        summary = cloning_status()
        return summary is not None and summary.ready

    wait_for(ready, timeout=60, what="a ready cloning engine on the pages")


def _consent_and_build(page, base: str, worker) -> Voice:
    _cloning_reported_ready(worker)
    page.goto(base + "/voices/new/")
    page.locator("[data-attest]").check()
    page.locator("[data-consent-start]").click()
    statement = page.locator("[data-statement]")
    statement.wait_for()
    assert statement.inner_text().strip()
    recorder = page.get_by_test_id("recorder")
    recorder.get_by_role("button", name="Record").click()
    page.wait_for_selector("[data-recorder][data-state=recording]")
    page.wait_for_timeout(8_000)  # the fake microphone reads the statement in the same voice
    recorder.get_by_role("button", name="Stop").click()
    page.wait_for_selector("[data-recorder][data-state=recorded]")
    recorder.get_by_role("button", name="Upload").click()
    create = page.get_by_role("button", name="Create voice")
    page.get_by_label("Name").fill("My voice")
    # Enabled once the worker has verified the consent take against the sample's speaker.
    expect(create).to_be_enabled(timeout=WAIT)
    create.click()
    page.wait_for_url(re.compile(r"/voices/[0-9a-f-]{36}/$"), timeout=WAIT)
    page.get_by_test_id("voice-status").filter(has_text="Ready").wait_for(timeout=WAIT)
    return Voice.objects.get(name="My voice")


def _second_voice_like(voice: Voice) -> Voice:
    """Another ready voice of the same owner and engine (the build was shown above once)."""
    other = Voice.objects.create(
        owner=voice.owner, name="Second voice", engine=voice.engine, language=voice.language
    )
    conditioning_store(voice=other, conditioning=conditioning_load(voice))
    return other


def _speak_listen_download(page, base: str, voice: Voice) -> SynthesisJob:
    page.goto(base + "/speak/")
    page.select_option("#id_voice", str(voice.code))
    page.fill("#id_text", SPEECH)
    watch_result(page)
    page.get_by_test_id("generate").click()
    expect(page.get_by_test_id("result-status")).to_have_text("Succeeded", timeout=WAIT)
    seen = page.evaluate("() => window.__seen")  # the status and progress changed in place
    assert any(entry.startswith(("Queued", "Running")) for entry in seen), seen
    job = SynthesisJob.objects.get(owner=voice.owner)
    assert (job.status, job.chunks_total) == (SynthesisJob.Status.SUCCEEDED, 2)

    expect(page.locator("#result-waveform")).to_have_attribute("data-state", "drawn")
    audio = page.locator("#result-audio")
    expect(audio).to_have_attribute("src", re.compile(rf"/jobs/{job.code}/audio$"))
    page.wait_for_function(
        "() => { const a = document.getElementById('result-audio');"
        " return a.readyState >= 1 && isFinite(a.duration) && a.duration > 0; }",
        timeout=60_000,
    )
    audio.evaluate("a => { a.pause(); a.currentTime = 0; }")
    waveform = page.get_by_test_id("waveform")
    box = waveform.bounding_box()
    waveform.click(position={"x": box["width"] * 0.75, "y": box["height"] / 2})
    page.wait_for_function(
        "() => { const a = document.getElementById('result-audio');"
        " return a.currentTime > a.duration * 0.5; }",
        timeout=10_000,
    )
    with page.expect_download() as download:
        page.get_by_test_id("download").click()
    data = Path(download.value.path()).read_bytes()
    assert data[:3] == b"ID3" or data[0] == 0xFF, data[:8]
    assert len(data) == job.audio.size

    page.goto(base + "/history/")
    row = page.locator("tr", has_text="The journey ends")
    expect(row).to_be_visible()
    expect(row.get_by_text("Succeeded")).to_be_visible()
    return job


def _mix(page, base: str, voices: list[Voice]) -> Voice:
    page.goto(base + "/voices/mix/")
    for voice, weight in zip(voices, ("3", "1"), strict=True):
        page.locator(f"#mix-{voice.code}").check()
        page.locator("tr[data-mix-row]", has=page.locator(f"#mix-{voice.code}")).locator(
            "[data-mix-weight]"
        ).fill(weight)
    page.get_by_label("Name").fill("Blend")
    page.get_by_role("button", name="Create the mix").click()
    page.wait_for_url(re.compile(r"/voices/[0-9a-f-]{36}/$"))
    mix = Voice.objects.get(name="Blend")
    assert mix.status == Voice.Status.READY
    return mix


def _usage_chart(page, base: str, user: User) -> None:
    page.goto(base + "/usage/")
    bars = page.locator("svg.chart rect.bar")
    assert bars.count() >= 1
    assert page.get_by_text(re.compile(r"characters used")).first.is_visible()


def _key_created_copied_revoked(page, base: str) -> None:
    page.goto(base + "/keys/")
    page.get_by_label("Name").fill("journey")
    page.get_by_role("button", name="Create key").click()
    secret = page.get_by_test_id("new-key-secret").inner_text().strip()
    page.get_by_role("button", name="Copy").click()
    page.get_by_role("button", name="Copied").wait_for()
    assert page.evaluate("navigator.clipboard.readText()") == secret
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Revoke").click()
    page.get_by_text("Key journey revoked.").wait_for()
    assert UserAPIKey.objects.get(name="journey").revoked


@pytest.fixture
def lean(settings):
    """A fixed handful of audio tokens per chunk: random weights rarely stop on their own."""
    settings.SYNTHESIS_DEFAULT_PARAMS = {"max_new_tokens": 12, "seed": 7}


def test_the_whole_journey_of_a_new_user(celery_worker, live_server, journey_page, corpus, lean):
    page, base = journey_page, live_server.url
    user = _sign_up(page, base)
    _upload_sample(page, base, corpus["wav"])
    voice = _consent_and_build(page, base, celery_worker)
    assert Consent.objects.get(voice=voice).status == Consent.Status.VERIFIED
    _speak_listen_download(page, base, voice)
    _mix(page, base, [voice, _second_voice_like(voice)])
    _usage_chart(page, base, user)
    _key_created_copied_revoked(page, base)
