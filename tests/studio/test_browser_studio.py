"""The Speak page's controls in a real browser (no worker needed)."""

from __future__ import annotations

import pytest

from tests.studio.browser_support import sign_in
from tests.voices.helpers import make_ready_voice, make_stock_voice

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_voice_search_languages_count_and_why_generate_is_off(live_server, page, owner, tmp_path):
    stock = make_stock_voice("Joe", stock_id="piper:en_US-joe")
    stock.language = "en"
    stock.save()
    mine = make_ready_voice(owner, "Marta", language="de")
    errors = []
    # script errors and CSP refusals (a missing favicon is not one of ours)
    page.on("console", lambda m: errors.append(m.text) if "Security Policy" in m.text else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    sign_in(page, live_server, owner)
    page.goto(live_server.url + "/speak/")

    # the first voice (stock Joe, Piper) speaks only English
    assert page.locator("#id_language option").all_inner_texts() == ["English"]
    assert page.get_by_test_id("voice-engine").inner_text() == "Piper"
    # nothing typed: Generate is off and says why
    assert page.get_by_test_id("generate").is_disabled()
    assert page.get_by_test_id("generate-why").inner_text() == "Type or load some text first."

    # search finds Marta (XTTS): the languages become hers, by name, German first
    page.fill("#voice-search", "marta")
    assert page.locator("#id_voice").input_value() == str(mine.code)
    languages = page.locator("#id_language option").all_inner_texts()
    assert languages[0] == "German" and "Japanese" in languages and len(languages) == 17
    assert page.get_by_test_id("voice-engine").inner_text() == "XTTS v2"
    assert page.locator("fieldset[data-engine=xtts]").is_visible() is False  # inside <details>
    page.locator("summary", has_text="Advanced").click()
    assert page.locator("fieldset[data-engine=xtts]").is_visible()
    assert page.locator("fieldset[data-engine=piper]").is_hidden()
    page.fill("#voice-search", "nobody")
    assert page.get_by_test_id("generate-why").inner_text() == "Choose a voice first."
    page.fill("#voice-search", "")

    # a text file fills the text area; the count follows (as the quota counts: normalised)
    text_file = tmp_path / "script.md"
    text_file.write_text("Hello  there\u2026 from a file.", encoding="utf-8")
    page.set_input_files("#text-file", str(text_file))
    page.wait_for_function("() => document.getElementById('id_text').value.includes('file')")
    page.wait_for_function(
        "() => document.getElementById('char-count').textContent.startsWith('27 characters')"
    )
    assert "of 100,000 characters left" in page.get_by_test_id("char-cost").inner_text() or (
        "characters left" in page.get_by_test_id("char-cost").inner_text()
    )
    assert page.get_by_test_id("generate").is_enabled()
    assert page.get_by_test_id("generate-why").is_hidden()

    page.set_viewport_size({"width": 390, "height": 800})
    assert page.evaluate("() => document.documentElement.scrollWidth") <= 390
    assert not errors, errors


def test_job_page_status_and_progress_are_live(live_server, page, owner, monkeypatch):
    from django.utils import timezone

    from synthesis.jobs import services
    from synthesis.models import SynthesisJob
    from tests.synthesis.api_helpers import job_request

    # This test moves the job along itself: no worker (one may be running for other tests)
    # is told about it.
    monkeypatch.setattr(services, "job_dispatch_on_commit", lambda job: None)
    job = job_request(owner, make_ready_voice(owner, "Marta", language="de"), "Hallo.")
    sign_in(page, live_server, owner)
    page.goto(f"{live_server.url}/jobs/{job.code}/")
    assert page.get_by_test_id("job-status").inner_text() == "Queued"
    assert page.get_by_test_id("job-cancel").is_visible()
    SynthesisJob.objects.filter(pk=job.pk).update(
        status=SynthesisJob.Status.RUNNING,
        started_at=timezone.now() - timezone.timedelta(seconds=4),
        chunks_done=1,
        chunks_total=3,
        progress=1 / 3,
    )
    page.wait_for_function(
        "() => document.getElementById('job-status').textContent === 'Running'", timeout=10_000
    )
    assert page.locator("#job-progress").inner_text() == "1/3 chunks"
    assert "s left" in page.locator("#job-estimate").inner_text()
    assert abs(page.get_by_test_id("job-bar").evaluate("el => el.value") - 1 / 3) < 0.01
    page.get_by_test_id("job-cancel").click()
    page.wait_for_load_state()
    job.refresh_from_db()
    assert job.cancel_requested
