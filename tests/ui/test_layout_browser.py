"""In Debian's chromium: every signed-in page fits a 390 px phone, the nav collapses into a menu,
dark mode follows the browser and the toggle (persisted), the usage chart draws, and an API key
is shown once, copied and revoked after a confirmation."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import Client

from accounts.models import DailyUsage, UserAPIKey
from accounts.usage import month_of
from tests.synthesis.api_helpers import job_finish, job_request, make_ready_voice
from tests.voices.helpers import make_sample

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PHONE = {"width": 390, "height": 844}


@pytest.fixture
def open_as(live_server, browser):
    """A browser page signed in as `user` (its session cookie copied from Django's client)."""
    contexts = []

    def open_as(user, **context_options):
        client = Client()
        client.force_login(user)
        context = browser.new_context(**context_options)
        contexts.append(context)
        cookie = {"name": "sessionid", "value": client.cookies["sessionid"].value}
        context.add_cookies([{**cookie, "url": live_server.url}])
        return context.new_page()

    yield open_as
    for context in contexts:
        context.close()


def _luminance(page) -> float:
    """Relative luminance (0 black .. 1 white) of the body's computed background colour."""
    rgb = page.evaluate(
        "getComputedStyle(document.body).backgroundColor.match(/\\d+(\\.\\d+)?/g).map(Number)"
    )
    r, g, b = (channel / 255 for channel in rgb[:3])
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def test_every_signed_in_page_fits_a_phone(live_server, open_as, owner):
    voice = make_ready_voice(owner, "Narrator with a rather long name for a phone")
    jobs = [
        job_finish(job_request(owner, voice, f"A finished line number {i}, long enough " * 3))
        for i in range(3)
    ]
    sample = make_sample(owner, name="a-very-long-sample-file-name-recorded-on-a-phone.wav")
    DailyUsage.objects.create(user=owner, day=month_of(), characters=1234, jobs=3)
    page = open_as(owner, viewport=PHONE)
    paths = [
        "/dashboard/",
        "/speak/",
        "/voices/",
        "/voices/new/",
        f"/voices/{voice.code}/",
        "/voices/samples/",
        f"/voices/samples/{sample.code}/",
        "/voices/mix/",
        f"/jobs/{jobs[0].code}/",
        "/history/",
        "/usage/",
        "/keys/",
        "/webhooks/",
        "/profile/",
        "/security/",
        "/profile/delete/",
        "/accounts/password/change/",
        "/no-such-page/",
    ]
    overflowing = []
    for path in paths:
        page.goto(live_server.url + path)
        width = page.evaluate("document.documentElement.scrollWidth")
        if width > PHONE["width"]:
            overflowing.append(f"{path}: {width}px")
    assert overflowing == []


def test_the_nav_collapses_into_a_keyboard_usable_menu(live_server, open_as, owner):
    page = open_as(owner, viewport=PHONE)
    page.goto(live_server.url + "/dashboard/")
    page.keyboard.press("Tab")  # the first stop is the skip link, visible when focused
    skip = page.get_by_role("link", name="Skip to content")
    assert skip.evaluate("el => el === document.activeElement")
    assert skip.bounding_box()["y"] >= 0
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.id") == "content"
    nav = page.locator("#site-nav")
    menu = page.get_by_role("button", name="Menu")
    assert not nav.is_visible() and menu.get_attribute("aria-expanded") == "false"
    menu.focus()
    page.keyboard.press("Enter")
    assert nav.is_visible() and menu.get_attribute("aria-expanded") == "true"
    page.keyboard.press("Escape")
    assert not nav.is_visible()
    menu.click()
    nav.get_by_role("link", name="Usage", exact=True).click()
    page.wait_for_url("**/usage/")

    wide = open_as(owner, viewport={"width": 1280, "height": 800})
    wide.goto(live_server.url + "/dashboard/")
    assert wide.locator("#site-nav").is_visible()
    assert not wide.get_by_role("button", name="Menu").is_visible()


def test_dark_mode_follows_the_browser_and_the_toggle_persists(live_server, open_as, owner):
    page = open_as(owner, color_scheme="dark")
    page.goto(live_server.url + "/dashboard/")
    assert _luminance(page) < 0.1
    toggle = page.get_by_test_id("theme-toggle")
    assert toggle.get_attribute("aria-pressed") == "true"
    toggle.click()
    assert _luminance(page) > 0.8
    assert page.evaluate("document.documentElement.dataset.theme") == "light"
    page.reload()
    assert _luminance(page) > 0.8 and toggle.get_attribute("aria-pressed") == "false"

    light = open_as(owner, color_scheme="light")
    light.goto(live_server.url + "/usage/")
    assert _luminance(light) > 0.8


def test_the_usage_chart_draws_one_bar_per_day(live_server, open_as, owner):
    start = month_of()
    data = {start: 300, start + timedelta(days=1): 100}
    for day, characters in data.items():
        DailyUsage.objects.create(user=owner, day=day, characters=characters, jobs=1)
    page = open_as(owner, viewport={"width": 1280, "height": 800})
    page.goto(live_server.url + "/usage/")
    bars = page.locator("svg.chart rect.bar")
    assert bars.count() == 2
    drawn = {bars.nth(i).get_attribute("data-date"): bars.nth(i).bounding_box() for i in range(2)}
    big, small = drawn[start.isoformat()], drawn[(start + timedelta(days=1)).isoformat()]
    assert big["height"] == pytest.approx(3 * small["height"], rel=0.02)
    assert small["x"] > big["x"]
    colour = page.evaluate("getComputedStyle(document.querySelector('rect.bar')).fill")
    assert colour not in ("", "none", "rgb(0, 0, 0)")  # coloured by the stylesheet


def test_a_key_is_shown_once_copied_and_revoked_after_confirming(live_server, open_as, owner):
    page = open_as(owner, permissions=["clipboard-read", "clipboard-write"])
    page.goto(live_server.url + "/keys/")
    page.get_by_label("Name").fill("laptop")
    page.get_by_role("button", name="Create key").click()
    secret = page.get_by_test_id("new-key-secret").inner_text().strip()
    assert "." in secret and len(secret) > 20
    page.get_by_role("button", name="Copy").click()
    page.get_by_role("button", name="Copied").wait_for()
    assert page.evaluate("navigator.clipboard.readText()") == secret

    page.goto(live_server.url + "/keys/")
    assert page.get_by_test_id("new-key-secret").count() == 0  # shown only once
    questions = []

    def answer(dialog, accept):
        questions.append(dialog.message)
        dialog.accept() if accept else dialog.dismiss()

    page.once("dialog", lambda dialog: answer(dialog, False))
    page.get_by_role("button", name="Revoke").click()
    page.wait_for_timeout(300)
    assert not UserAPIKey.objects.get(name="laptop").revoked
    page.once("dialog", lambda dialog: answer(dialog, True))
    page.get_by_role("button", name="Revoke").click()
    page.get_by_text("Key laptop revoked.").wait_for()
    assert UserAPIKey.objects.get(name="laptop").revoked
    assert len(questions) == 2 and "Revoke the key" in questions[0]
