"""With cloning unavailable, the new-voice page in chromium offers no build and says why."""

from __future__ import annotations

import pytest
from django.test import Client
from django.utils import timezone

from synthesis.models import EngineStatusRecord
from tests.voices.helpers import make_sample

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_create_stays_disabled_with_its_reason(live_server, browser, owner):
    EngineStatusRecord.objects.create(
        hostname="synthesis@test",
        engine="xtts",
        ready=False,
        reason="No XTTS model directory is set.",
        fix="Set XTTS_MODEL_DIR.",
        heartbeat_at=timezone.now(),
    )
    make_sample(owner, name="first take.wav")
    client = Client()
    client.force_login(owner)
    context = browser.new_context(viewport={"width": 390, "height": 844})
    context.add_cookies(
        [{"name": "sessionid", "value": client.cookies["sessionid"].value, "url": live_server.url}]
    )
    page = context.new_page()
    try:
        page.goto(live_server.url + "/voices/new/")
        notice = page.get_by_test_id("cloning-unavailable")
        assert notice.is_visible()
        assert "Voice cloning is not available on this server yet." in notice.inner_text()
        assert "XTTS_MODEL_DIR" not in page.content()
        page.get_by_label("Name").fill("Would fail")
        create = page.get_by_role("button", name="Create voice")
        assert create.is_disabled()
        why = page.get_by_test_id("create-why")
        assert why.is_visible() and "not available" in why.inner_text()
        assert page.locator("[data-attest]").is_disabled()  # no consent phrase to expire
        assert page.evaluate("document.documentElement.scrollWidth") <= 390
    finally:
        context.close()
