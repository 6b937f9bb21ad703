"""The Speak page's Model picker in a real browser (no worker needed): picking a model swaps the
languages, the engine's parameters and the licence shown, and the job is made for it."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from synthesis.models import SynthesisJob
from tests.studio.browser_support import sign_in
from tests.support.waiting import wait_for
from tests.synthesis.models_choice.helpers import voice_for_both_toys

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_picking_a_model_swaps_languages_parameters_and_licence(live_server, page, owner, settings):
    settings.TIMBRE_DEFAULT_MODEL = "toy"
    both = voice_for_both_toys(owner)
    errors = []
    page.on("console", lambda m: errors.append(m.text) if "Security Policy" in m.text else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    sign_in(page, live_server, owner)
    page.goto(f"{live_server.url}/speak/?voice={both.code}")

    model = page.locator("#id_model")
    expect(model).to_have_value("toy")  # the default model, preselected
    assert model.locator("option").all_inner_texts() == [
        "Toy tone (commercial use allowed)",
        "Toy square (commercial use allowed)",
    ]
    languages = page.locator("#id_language option")
    assert languages.evaluate_all("options => options.map(o => o.value)") == ["en", "eo"]
    model.select_option("toyb")
    expect(page.get_by_test_id("voice-engine")).to_have_text("Toy square")
    expect(page.get_by_test_id("model-licence")).to_have_text("Licence: test only")
    assert languages.all_inner_texts() == ["English", "French"]
    page.locator("summary", has_text="Advanced").click()
    expect(page.locator("fieldset[data-engine=toyb]")).to_be_visible()
    expect(page.locator("fieldset[data-engine=toy]")).to_be_hidden()

    page.fill("#id_text", "Bonjour.")
    page.select_option("#id_language", "fr")
    page.select_option("#id_output_format", "wav")  # a job, not a stream: no worker needed
    page.fill("#id_toyb__buzz_hz", "500")
    page.get_by_test_id("generate").click()
    job = wait_for(lambda: SynthesisJob.objects.first(), timeout=30, what="the job")
    assert (job.engine, job.language, job.params["buzz_hz"]) == ("toyb", "fr", 500.0)
    assert not errors, errors
