"""The mixing page on a 390 px phone in Debian's chromium (no worker: voices are made ready)."""

from __future__ import annotations

import re

import pytest
from django.test import Client

from tests.voices.helpers import make_ready_voice
from voices.models import Voice

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_mix_two_voices_at_390_px(live_server, browser, owner):
    alice, bob = make_ready_voice(owner, "Alice", seed=1), make_ready_voice(owner, "Bob", seed=2)
    client = Client()
    client.force_login(owner)
    context = browser.new_context(viewport={"width": 390, "height": 844})
    context.add_cookies(
        [{"name": "sessionid", "value": client.cookies["sessionid"].value, "url": live_server.url}]
    )
    page = context.new_page()
    try:
        for url in ("/voices/new/", "/voices/samples/", f"/voices/{alice.code}/", "/voices/"):
            page.goto(live_server.url + url)
            assert page.evaluate("document.documentElement.scrollWidth") <= 390, url
        page.get_by_test_id("mix-link").click()
        page.wait_for_url(re.compile(r"/voices/mix/$"))
        assert page.evaluate("document.documentElement.scrollWidth") <= 390
        page.get_by_label("Alice", exact=True).check()
        page.get_by_label("Bob", exact=True).check()
        page.get_by_label("Weight of Alice").fill("3")
        page.get_by_label("Weight of Bob").fill("1")
        assert page.locator("[data-mix-share]").first.inner_text() == "75%"
        page.get_by_label("Name of the mix").fill("Phone blend")
        page.get_by_test_id("mix-submit").click()
        page.wait_for_url(re.compile(r"/voices/[0-9a-f-]{36}/$"))
        assert page.get_by_role("heading", name=re.compile("Phone blend")).is_visible()
        assert page.get_by_test_id("voice-status").inner_text() == "Ready"
        assert page.evaluate("document.documentElement.scrollWidth") <= 390
    finally:
        context.close()
    mixed = Voice.objects.get(owner=owner, name="Phone blend")
    assert {s["id"]: s["weight"] for s in mixed.mix_sources} == {
        str(alice.code): 0.75,
        str(bob.code): 0.25,
    }
