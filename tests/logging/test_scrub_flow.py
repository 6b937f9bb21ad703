"""A whole session of a user, logged at DEBUG in the production format: no password, API key,
session id, CSRF token, webhook secret or one-time link key reaches the log output, while the
records that carried them (request headers at DEBUG, Django's request warnings) are still there."""

from __future__ import annotations

import re
import uuid

import pytest
from django.core import mail
from django.test import Client
from django.urls import reverse

from accounts.models import User
from tests.logging.support import captured_logs, json_lines
from tests.synthesis.api_helpers import make_ready_voice, random_ip

pytestmark = pytest.mark.django_db

PASSWORD = "Flow-pass-phrase-77"
WRONG_PASSWORD = "Wrong-pass-phrase-78"
BAD_KEY = "NoTaKeY1." + "x" * 32


def test_no_secret_of_a_full_flow_reaches_the_logs():
    # A fresh address: allauth limits confirmation emails per address, in the shared cache.
    email = f"flow-{uuid.uuid4().hex[:12]}@example.com"
    browser = Client(REMOTE_ADDR=random_ip())
    with captured_logs() as out:
        # Signup, email confirmation (a one-time key in the link), logout.
        assert browser.get(reverse("account_signup")).status_code == 200
        signup = browser.post(
            reverse("account_signup"),
            {"email": email, "password1": PASSWORD, "password2": PASSWORD},
        )
        assert signup.status_code == 302
        link = re.search(r"(/accounts/confirm-email/([^/\s]+)/)", mail.outbox[-1].body)
        assert link, mail.outbox[-1].body
        confirm_key = link.group(2)
        assert browser.post(link.group(1)).status_code == 302
        assert browser.post(reverse("account_logout")).status_code == 302

        # A failed login, then a good one: the session cookie goes out with every request.
        wrong = {"login": email, "password": WRONG_PASSWORD}
        failed = browser.post(reverse("account_login"), wrong)
        assert failed.status_code == 200
        login = browser.post(reverse("account_login"), {"login": email, "password": PASSWORD})
        assert login.status_code == 302, login.content[:500]
        session_id = browser.cookies["sessionid"].value
        csrf_token = browser.cookies["csrftoken"].value

        # An API key made on the keys page, shown once.
        page = browser.post(
            "/keys/", {"name": "flow", "scopes": ["tts", "voices:read", "history:read"]}
        )
        api_key = re.search(r"<code>([A-Za-z0-9]{8}\.[A-Za-z0-9]+)</code>", page.content.decode())
        assert api_key, page.content.decode()[:2000]
        api_key = api_key.group(1)
        user = User.objects.get(email=email)
        voice = make_ready_voice(user, "Flow voice", language="en")

        # The key on the native API, on both compatible APIs, and rotating the webhook secret.
        api = Client(REMOTE_ADDR=random_ip(), HTTP_AUTHORIZATION=f"Bearer {api_key}")
        job = api.post(
            "/api/v1/synthesis",
            {"text": "Hello there.", "voice": str(voice.code)},
            content_type="application/json",
        )
        assert job.status_code == 202, job.content
        assert api.get("/v1/models").status_code == 200
        eleven = Client(REMOTE_ADDR=random_ip(), HTTP_XI_API_KEY=api_key)
        assert eleven.get("/v1/models").status_code == 200
        rotated = api.post("/api/v1/webhooks/secret/rotate")
        assert rotated.status_code == 200, rotated.content
        webhook_secret = rotated.json()["secret"]

        # A wrong key, in both headers.
        refused = Client(REMOTE_ADDR=random_ip(), HTTP_AUTHORIZATION=f"Bearer {BAD_KEY}")
        assert refused.get("/api/v1/usage").status_code == 401
        refused = Client(REMOTE_ADDR=random_ip(), HTTP_XI_API_KEY=BAD_KEY)
        assert refused.get("/v1/models").status_code == 401

    output = out.getvalue()
    secrets = {
        "password": PASSWORD,
        "wrong password": WRONG_PASSWORD,
        "API key": api_key,
        "API key secret part": api_key.split(".", 1)[1],
        "bad key": BAD_KEY,
        "session id": session_id,
        "CSRF token": csrf_token,
        "webhook secret": webhook_secret,
        "webhook secret body": webhook_secret.removeprefix("whsec_"),
        "confirmation key": confirm_key,
    }
    leaked = [name for name, value in secrets.items() if value in output]
    assert not leaked, f"{leaked} leaked into the logs"

    # The records are there, scrubbed: one JSON object per line, each with its request id.
    lines = json_lines(out)
    headers = [line for line in lines if line["logger"] == "timbre.request"]
    assert len(headers) >= 12
    assert all(line["request_id"] not in ("", "-") for line in headers)
    messages = "\n".join(line["message"] for line in headers)
    assert "'Authorization': '[scrubbed]'" in messages
    assert "'Xi-Api-Key': '[scrubbed]'" in messages
    assert "'Cookie': '[scrubbed]'" in messages
    assert "/accounts/confirm-email/[scrubbed]/" in messages
    unauthorized = [
        line
        for line in lines
        if line["logger"] == "django.request" and line["message"].startswith("Unauthorized")
    ]
    assert len(unauthorized) == 2 and all(line["request_id"] != "-" for line in unauthorized)
