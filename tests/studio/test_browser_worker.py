"""Speak → listen in a real browser against a live server and a real worker (tiny XTTS).

Three runs only, each lean: a fixed handful of tokens per chunk (SYNTHESIS_DEFAULT_PARAMS).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from synthesis.models import SynthesisJob
from tests.studio.browser_support import sign_in, tab_to, watch_result

# ready_voice is a fixture: imported, pytest offers it to this module's tests too.
from tests.synthesis.support import ready_voice  # noqa: F401

pytestmark = [
    pytest.mark.browser,
    pytest.mark.worker,
    pytest.mark.slow,
    pytest.mark.django_db(transaction=True),
]

# Three paragraphs: three chunks (a chunk never spans a paragraph break), so progress shows.
THREE_SENTENCES = "The studio speaks now.\n\nIt shows how far it got.\n\nAnd then it plays."
WAIT_MS = 180_000


@pytest.fixture
def lean(settings):
    settings.SYNTHESIS_DEFAULT_PARAMS = {"max_new_tokens": 12, "seed": 7}


def _status(page) -> str:
    return page.get_by_test_id("result-status").inner_text()


def test_speak_progress_waveform_seek_download(live_server, page, owner, ready_voice, lean):  # noqa: F811
    sign_in(page, live_server, owner)
    page.goto(live_server.url + "/speak/")
    page.select_option("#id_voice", str(ready_voice.code))
    page.fill("#id_text", THREE_SENTENCES)
    watch_result(page)
    page.get_by_test_id("generate").click()

    page.wait_for_function(
        "() => document.getElementById('result-status').textContent === 'Succeeded'",
        timeout=WAIT_MS,
    )
    seen = page.evaluate("() => window.__seen")
    assert any("chunks" in entry and not entry.startswith("Succeeded") for entry in seen), seen
    job = SynthesisJob.objects.get(owner=owner)
    assert job.status == SynthesisJob.Status.SUCCEEDED and job.chunks_total == 3
    # short mp3 text: streamed, and the player started on the first streamed bytes (MediaSource)
    assert job.stream
    assert page.evaluate("() => document.getElementById('result-audio').dataset.streamed") == "true"

    # the waveform is drawn from the stored audio, which the player now uses (served with Range)
    page.wait_for_function(
        "() => document.getElementById('result-waveform').dataset.state === 'drawn'",
        timeout=60_000,
    )
    assert page.evaluate("() => document.getElementById('result-audio').src").endswith(
        f"/jobs/{job.code}/audio"
    )
    page.wait_for_function(
        "() => { const a = document.getElementById('result-audio');"
        " return a.readyState >= 1 && isFinite(a.duration) && a.duration > 0; }",
        timeout=60_000,
    )
    page.evaluate(
        "() => { const a = document.getElementById('result-audio'); a.pause(); a.currentTime = 0; }"
    )
    canvas = page.get_by_test_id("waveform")
    box = canvas.bounding_box()
    canvas.click(position={"x": box["width"] * 0.75, "y": box["height"] / 2})
    page.wait_for_function(
        "() => { const a = document.getElementById('result-audio');"
        " return a.currentTime > a.duration * 0.5; }",
        timeout=10_000,
    )
    # keyboard seeking on the focused waveform
    canvas.focus()
    page.keyboard.press("Home")
    page.wait_for_function(
        "() => document.getElementById('result-audio').currentTime < 0.1", timeout=10_000
    )

    with page.expect_download() as download_info:
        page.get_by_test_id("download").click()
    download = download_info.value
    assert download.suggested_filename == f"timbre-{job.code}.mp3"
    data = Path(download.path()).read_bytes()
    assert len(data) > 1000 and (data[:3] == b"ID3" or data[0] == 0xFF), data[:8]


def test_keyboard_only_speak(live_server, page, owner, ready_voice, lean):  # noqa: F811
    sign_in(page, live_server, owner)
    page.goto(live_server.url + "/speak/")
    tab_to(page, "#id_text")
    page.keyboard.type("Only the keyboard was used.")
    tab_to(page, "#voice-search")
    page.keyboard.type("Test voice")
    tab_to(page, "#generate")
    page.keyboard.press("Enter")
    page.wait_for_function(
        "() => document.getElementById('result-status').textContent === 'Succeeded'",
        timeout=WAIT_MS,
    )
    player = page.locator("#result-player")
    player.wait_for(state="visible")
    assert page.evaluate("() => document.getElementById('result-audio').src").endswith("/audio")
    job = SynthesisJob.objects.get(owner=owner)
    assert job.voice_id == ready_voice.pk and job.text == "Only the keyboard was used."


def test_cancel_a_long_job_from_the_page(live_server, page, owner, ready_voice, lean):  # noqa: F811
    sign_in(page, live_server, owner)
    page.goto(live_server.url + "/speak/")
    page.select_option("#id_voice", str(ready_voice.code))
    paragraphs = [f"Paragraph {n} goes on for a while so that the text is long." for n in range(12)]
    page.fill("#id_text", "\n\n".join(paragraphs))  # over 300 characters: a job, not a stream
    page.locator("summary", has_text="Advanced").click()
    page.fill("#id_xtts__max_new_tokens", "110")  # slow chunks (the tiny model takes <= 117)
    page.get_by_test_id("generate").click()
    page.wait_for_function(
        "() => document.getElementById('result-status').textContent === 'Running'",
        timeout=WAIT_MS,
    )
    assert page.get_by_test_id("result-progress").is_visible()
    page.get_by_test_id("result-cancel").click()
    page.wait_for_function(
        "() => document.getElementById('result-status').textContent === 'Cancelled'",
        timeout=WAIT_MS,
    )
    job = SynthesisJob.objects.get(owner=owner)
    assert job.status == SynthesisJob.Status.CANCELLED and job.chunks_done < 12
    assert not job.stream
