"""The API docs render in Debian's chromium with every request that leaves this server blocked:
Swagger UI and ReDoc are our own static files, and "Authorize" offers every way to send a key."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

RECORD_VIOLATIONS = """
window.__csp = [];
document.addEventListener("securitypolicyviolation", (e) => {
  window.__csp.push(`${e.violatedDirective} blocked ${e.blockedURI || "inline"}`);
});
"""


@pytest.fixture
def offline_page(browser, live_server):
    """A page whose requests to anything but the live server are aborted (and remembered)."""
    here = urlsplit(live_server.url).netloc
    context = browser.new_context()
    outside: list[str] = []

    def only_here(route):
        if urlsplit(route.request.url).netloc == here or route.request.url.startswith(
            ("data:", "blob:")
        ):
            route.continue_()
        else:
            outside.append(route.request.url)
            route.abort()

    context.route("**/*", only_here)
    context.add_init_script(RECORD_VIOLATIONS)
    page = context.new_page()
    page.outside = outside
    yield page
    context.close()


def test_swagger_ui_renders_offline_and_takes_every_kind_of_key(offline_page, live_server):
    page = offline_page
    page.goto(live_server.url + "/api/docs/")
    page.wait_for_selector(".swagger-ui .info .title", timeout=30_000)
    assert "Timbre API" in page.inner_text(".swagger-ui .info .title")
    page.wait_for_selector(".opblock")
    assert page.locator(".opblock").count() > 20  # the operations are listed

    page.get_by_role("button", name="Authorize").first.click()
    dialog = page.locator(".dialog-ux")
    dialog.wait_for()
    text = dialog.inner_text()
    for scheme in ("bearerAuth", "apiKeyAuth", "xiApiKey", "cookieAuth"):
        assert scheme in text, f"{scheme} missing from Authorize"
    assert page.outside == [], f"requested outside this server: {page.outside}"
    assert page.evaluate("window.__csp") == []


def test_redoc_renders_offline(offline_page, live_server):
    page = offline_page
    page.goto(live_server.url + "/api/redoc/")
    page.wait_for_selector("redoc .api-info h1", timeout=30_000)
    assert "Timbre API" in page.inner_text("redoc .api-info h1")
    assert page.locator("redoc [data-section-id^='tag/'], redoc li[data-item-id]").count() > 5
    assert page.outside == [], f"requested outside this server: {page.outside}"
    # ReDoc's sidebar carries a "powered by" logo from its CDN; our policy stops that image
    # before any request leaves (nothing else is refused: scripts, styles and data all load).
    refused = page.evaluate("window.__csp")
    assert all(v.startswith("img-src blocked https://cdn.redoc.ly/") for v in refused), refused
