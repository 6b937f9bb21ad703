"""`make screenshots`: each main page at 1280 and 390 px, saved as PNGs for a person to look at.

Skipped unless TIMBRE_SCREENSHOTS=1 (the Makefile target sets it), so `make test` pays nothing.
Files go to screenshots/ at the repository root (git-ignored), or to TIMBRE_SCREENSHOTS_DIR.
"""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

import pytest
from django.test import Client

from accounts import services as account_services
from accounts.models import DailyUsage
from accounts.usage import month_of
from tests.factories import UserFactory
from tests.synthesis.api_helpers import job_finish, job_request, make_ready_voice
from tests.voices.helpers import make_sample

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        os.environ.get("TIMBRE_SCREENSHOTS") != "1",
        reason="screenshots only with TIMBRE_SCREENSHOTS=1 (make screenshots)",
    ),
]

WIDTHS = {"desktop": (1280, 800), "phone": (390, 844)}
PUBLIC = {"home": "/", "login": "/accounts/login/", "signup": "/accounts/signup/"}


def _out_dir() -> Path:
    default = Path(__file__).resolve().parents[2] / "screenshots"
    out = Path(os.environ.get("TIMBRE_SCREENSHOTS_DIR") or default)
    out.mkdir(parents=True, exist_ok=True)
    return out


def _demo_user():
    """A user with a voice, a sample, finished jobs, a month of usage and an API key."""
    user = UserFactory(email="demo@example.com", display_name="Demo")
    voice = make_ready_voice(user, "Narrator")
    sample = make_sample(user, name="first take.wav")
    texts = ["Welcome to Timbre.", "The quick brown fox jumps over the lazy dog.", "Bonjour."]
    job = None
    for text in texts:
        job = job_finish(job_request(user, voice, text))
    start = month_of()
    for offset, characters in ((0, 420), (2, 1250), (3, 80), (6, 640)):
        DailyUsage.objects.update_or_create(
            user=user,
            day=start + timedelta(days=offset),
            defaults={"characters": characters, "jobs": 2},
        )
    account_services.api_key_create(user=user, name="laptop", scopes=["tts"])
    pages = {
        "dashboard": "/dashboard/",
        "speak": "/speak/",
        "voices": "/voices/",
        "voice-detail": f"/voices/{voice.code}/",
        "voice-new": "/voices/new/",
        "samples": "/voices/samples/",
        "sample-detail": f"/voices/samples/{sample.code}/",
        "job": f"/jobs/{job.code}/",
        "history": "/history/",
        "usage": "/usage/",
        "keys": "/keys/",
        "webhooks": "/webhooks/",
        "profile": "/profile/",
        "security": "/security/",
        "not-found": "/no-such-page/",
    }
    return user, pages


def _shoot(browser, base: str, pages: dict, out: Path, *, cookie=None, scheme="light") -> list:
    saved = []
    for label, (width, height) in WIDTHS.items():
        context = browser.new_context(
            viewport={"width": width, "height": height}, color_scheme=scheme
        )
        if cookie:
            context.add_cookies([{"name": "sessionid", "value": cookie, "url": base}])
        page = context.new_page()
        for name, path in pages.items():
            page.goto(base + path)
            page.wait_for_load_state("networkidle")
            target = out / f"{name}-{label}{'-dark' if scheme == 'dark' else ''}.png"
            page.screenshot(path=str(target), full_page=True)
            saved.append(target)
        context.close()
    return saved


def test_save_screenshots(live_server, browser):
    out = _out_dir()
    user, pages = _demo_user()
    client = Client()
    client.force_login(user)
    cookie = client.cookies["sessionid"].value
    saved = _shoot(browser, live_server.url, PUBLIC, out)
    saved += _shoot(browser, live_server.url, pages, out, cookie=cookie)
    dark = {name: pages[name] for name in ("dashboard", "speak", "usage")}
    saved += _shoot(browser, live_server.url, dark, out, cookie=cookie, scheme="dark")
    assert all(path.stat().st_size > 0 for path in saved)
    print(f"\n{len(saved)} screenshots in {out}")
