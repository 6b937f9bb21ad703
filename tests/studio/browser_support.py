"""Helpers for the studio's browser tests (signed-in pages in Playwright)."""

from __future__ import annotations

from django.conf import settings
from django.test import Client


def sign_in(page, live_server, user) -> None:
    """Give the browser the session of `user` (no login form to drive)."""
    client = Client()
    client.force_login(user)
    cookie = client.cookies[settings.SESSION_COOKIE_NAME].value
    page.context.add_cookies(
        [{"name": settings.SESSION_COOKIE_NAME, "value": cookie, "url": live_server.url}]
    )


def watch_result(page) -> None:
    """Record every status text the result panel shows (window.__seen), to prove it was live."""
    page.evaluate(
        """() => {
        window.__seen = [];
        const note = () => window.__seen.push(
            document.getElementById('result-status').textContent + ' | ' +
            document.getElementById('result-detail').textContent);
        new MutationObserver(note).observe(document.getElementById('result'),
            {subtree: true, childList: true, characterData: true});
    }"""
    )


def tab_to(page, selector: str, *, limit: int = 60) -> None:
    """Press Tab until the element matching `selector` has the focus."""
    for _ in range(limit):
        if page.evaluate("s => document.activeElement === document.querySelector(s)", selector):
            return
        page.keyboard.press("Tab")
    raise AssertionError(f"Tab never reached {selector}")
