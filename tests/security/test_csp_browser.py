"""In Debian's chromium: the signed-in pages, the recording page (recording with a fake
microphone) and the admin run under the Content-Security-Policy without a single violation, and
the microphone is refused on pages that do not record."""

from __future__ import annotations

import pytest
from django.test import Client

from tests.factories import UserFactory
from tests.synthesis.api_helpers import job_finish, job_request, make_ready_voice
from tests.voices.helpers import make_sample

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

FAKE_MICROPHONE = ["--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream"]
# Runs before any page script (injected by the browser, not subject to the page's CSP).
RECORD_VIOLATIONS = """
window.__csp = [];
document.addEventListener("securitypolicyviolation", (e) => {
  const where = `${e.sourceFile}:${e.lineNumber}`;
  window.__csp.push(`${e.violatedDirective} blocked ${e.blockedURI || "inline"} at ${where}`);
});
"""

ASK_FOR_MICROPHONE = (
    "navigator.mediaDevices.getUserMedia({audio: true}).then(() => 'granted', (e) => e.name)"
)


@pytest.fixture(scope="module")
def mic_browser(playwright_instance):
    from tests.browser import CHROMIUM_ARGS, chromium_path

    browser = playwright_instance.chromium.launch(
        executable_path=chromium_path(), args=[*CHROMIUM_ARGS, *FAKE_MICROPHONE]
    )
    yield browser
    browser.close()


@pytest.fixture
def open_as(live_server, mic_browser):
    contexts = []

    def open_as(user):
        client = Client()
        client.force_login(user)
        context = mic_browser.new_context()
        contexts.append(context)
        context.add_cookies(
            [
                {
                    "name": "sessionid",
                    "value": client.cookies["sessionid"].value,
                    "url": live_server.url,
                }
            ]
        )
        context.add_init_script(RECORD_VIOLATIONS)
        page = context.new_page()
        page.console_messages_seen = []
        page.on("console", lambda msg: page.console_messages_seen.append(msg.text))
        return page

    yield open_as
    for context in contexts:
        context.close()


def visit(page, url: str) -> list[str]:
    response = page.goto(url)
    assert response is not None and response.status == 200, url
    page.wait_for_load_state("networkidle")
    assert "Content-Security-Policy" in {k.title(): v for k, v in response.headers.items()}
    events = page.evaluate("window.__csp")
    console = [m for m in page.console_messages_seen if "Content Security Policy" in m]
    page.console_messages_seen.clear()
    return [f"{url}: {line}" for line in [*events, *console]]


def test_signed_in_pages_and_recording_have_no_csp_violation(live_server, open_as, owner):
    voice = make_ready_voice(owner, "Narrator")
    done = job_finish(job_request(owner, voice, "A finished line."))
    queued = job_request(owner, voice, "A queued line.")  # its page polls with job_poll.js
    sample = make_sample(owner, name="first take.wav")
    page = open_as(owner)
    base = live_server.url
    violations = []
    for path in (
        "/dashboard/",
        "/speak/",
        "/history/",
        "/webhooks/",
        "/keys/",
        "/profile/",
        "/voices/",
        f"/voices/{voice.code}/",
        "/voices/samples/",
        f"/voices/samples/{sample.code}/",
        f"/jobs/{done.code}/",
        f"/jobs/{queued.code}/",
        "/accounts/email/",
        "/accounts/password/change/",
        "/accounts/2fa/",
        "/voices/new/",
    ):
        violations += visit(page, base + path)
    page.wait_for_timeout(1_500)  # the queued job's page polled at least once
    violations += [f"job poll: {line}" for line in page.evaluate("window.__csp")]

    # The recording page: record two seconds, stop, and play the take back (a blob: URL).
    violations += visit(page, base + "/voices/samples/record/")
    recorder = page.get_by_test_id("recorder")
    recorder.get_by_role("button", name="Record").click()
    page.wait_for_selector("[data-recorder][data-state=recording]")
    page.wait_for_timeout(2_000)
    recorder.get_by_role("button", name="Stop").click()
    page.wait_for_selector("[data-recorder][data-state=recorded]")
    preview = page.locator("[data-preview]")
    assert preview.get_attribute("src").startswith("blob:")
    page.wait_for_function("document.querySelector('[data-preview]').readyState >= 1")
    violations += [f"recording: {line}" for line in page.evaluate("window.__csp")]

    # The voice page's delete button asks first (a handler in static/js/confirm.js).
    page.goto(f"{base}/voices/{voice.code}/")
    page.once("dialog", lambda dialog: dialog.dismiss())
    page.get_by_role("button", name="Delete voice").click()
    page.wait_for_timeout(300)
    assert page.url.endswith(f"/voices/{voice.code}/")  # dismissed: nothing deleted
    assert voice.__class__.objects.filter(pk=voice.pk).exists()
    assert violations == []


def test_the_microphone_is_refused_where_nothing_is_recorded(live_server, open_as, owner):
    page = open_as(owner)
    page.goto(live_server.url + "/dashboard/")
    assert page.evaluate(ASK_FOR_MICROPHONE) == "NotAllowedError"
    page.goto(live_server.url + "/voices/samples/record/")
    assert page.evaluate(ASK_FOR_MICROPHONE) == "granted"


def test_admin_pages_have_no_csp_violation(live_server, open_as, owner):
    admin = UserFactory(email="admin@example.com", is_staff=True, is_superuser=True)
    voice = make_ready_voice(owner, "Narrator")
    job = job_finish(job_request(owner, voice))
    page = open_as(admin)
    base = live_server.url
    violations = []
    for path in (
        "/admin/",
        "/admin/accounts/user/",
        f"/admin/accounts/user/{owner.pk}/change/",
        "/admin/accounts/user/add/",
        "/admin/voices/voice/",
        f"/admin/voices/voice/{voice.pk}/change/",
        "/admin/synthesis/synthesisjob/",
        f"/admin/synthesis/synthesisjob/{job.pk}/change/",
        "/admin/accounts/user/?q=owner",
    ):
        violations += visit(page, base + path)
    # The change list's action bar and date filters run admin's own scripts.
    page.goto(base + "/admin/accounts/user/")
    page.locator("input.action-select").first.check()
    assert page.locator(".action-counter").inner_text().startswith("1 of")
    violations += [f"changelist: {line}" for line in page.evaluate("window.__csp")]
    assert violations == []
