"""The new-voice flow says up front when cloning is unavailable, and offers no build then."""

from __future__ import annotations

import pytest

from tests.voices.helpers import make_sample
from tests.voices.pages.conftest import XTTS_FIX

pytestmark = pytest.mark.django_db

USER_LINE = "Voice cloning is not available on this server yet."
PAGES = ["/voices/new/", "/voices/samples/", "/voices/samples/record/", "/voices/"]


def test_cloning_unavailable_is_said_up_front_on_every_step(client, owner, cloning_down):
    make_sample(owner)
    client.force_login(owner)
    for url in PAGES:
        page = client.get(url).content.decode()
        assert 'data-testid="cloning-unavailable"' in page, url
        assert USER_LINE in page, url
        assert XTTS_FIX not in page and "XTTS_MODEL_DIR" not in page, url


def test_the_build_cannot_be_started_and_says_why(client, owner, cloning_down):
    make_sample(owner)
    client.force_login(owner)
    page = client.get("/voices/new/").content.decode()
    assert 'data-voice-new class="card" novalidate data-blocked' in page
    assert 'data-testid="consent-step" disabled' in page  # no phrase issued that would expire
    why = page.split('data-testid="create-why">', 1)[1].split("</small>", 1)[0]
    assert why == USER_LINE


def test_staff_also_see_the_reason_and_the_setting_to_fix(client, owner, cloning_down):
    owner.is_staff = True
    owner.save(update_fields=["is_staff"])
    client.force_login(owner)
    for url in PAGES:
        page = client.get(url).content.decode()
        assert 'data-testid="operator-fix"' in page and XTTS_FIX in page, url
        assert "No XTTS model directory is set." in page


def test_with_cloning_ready_nothing_is_blocked(client, owner, cloning_ready):
    make_sample(owner)
    client.force_login(owner)
    page = client.get("/voices/new/").content.decode()
    assert 'data-testid="cloning-unavailable"' not in page
    assert "data-blocked" not in page
    assert "Choose samples, give your consent and name the voice first." in page


def test_no_worker_yet_counts_as_unavailable(client, owner):
    client.force_login(owner)
    page = client.get("/voices/new/").content.decode()
    assert USER_LINE in page and "data-blocked" in page
