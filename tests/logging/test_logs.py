"""Log lines: one JSON object each, with the request id, and secrets scrubbed from messages,
arguments, extra fields and exception text."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys

import pytest
from django.conf import settings
from django.test import RequestFactory

from config.logs import NO_REQUEST, logging_config, request_id_var, scrub
from tests.logging.support import captured_logs, json_lines

logger = logging.getLogger("timbre.tests.logging")

PASSWORD = "Tr0ub4dor-and-3-horses"
API_KEY = "AbCd1234." + "Zy9" * 10 + "xw"  # the shape djangorestframework-api-key hands out
WEBHOOK_SECRET = "whsec_" + "q" * 43
SESSION_ID = "k3v9session0id0value0000000000zz"
CSRF = "CsRfT0k3nV4lu3" * 2
SIGNATURE = "t=1700000000,v1=" + "ab12" * 16
SECRETS = (PASSWORD, API_KEY, "Zy9Zy9Zy9", WEBHOOK_SECRET, SESSION_ID, CSRF, "ab12ab12ab12")


def _assert_clean(text: str) -> None:
    leaked = [secret for secret in SECRETS if secret in text]
    assert not leaked, f"{leaked} in the log output:\n{text}"


def test_a_json_line_has_the_fields_and_the_request_id():
    token = request_id_var.set("req-42")
    try:
        with captured_logs() as out:
            logger.info("Job %s queued", "abc", extra={"job": "abc", "chars": 12})
    finally:
        request_id_var.reset(token)
    (line,) = json_lines(out)
    assert list(line)[:3] == ["time", "level", "logger"]
    assert line["time"].endswith("+00:00") and "T" in line["time"]
    assert (line["level"], line["logger"], line["message"]) == (
        "INFO",
        "timbre.tests.logging",
        "Job abc queued",
    )
    assert line["request_id"] == "req-42"
    assert (line["job"], line["chars"]) == ("abc", 12)
    assert "exception" not in line


def test_outside_a_request_the_id_is_a_dash_and_exceptions_are_one_field():
    with captured_logs() as out:
        try:
            raise RuntimeError("engine exploded")
        except RuntimeError:
            logger.exception("Job failed")
    (line,) = json_lines(out)  # the traceback stays inside the one JSON line
    assert line["request_id"] == NO_REQUEST
    assert line["level"] == "ERROR"
    assert line["exception"].startswith("Traceback (most recent call last)")
    assert "RuntimeError: engine exploded" in line["exception"]


def test_secrets_are_scrubbed_from_message_args_extras_and_exceptions():
    form = RequestFactory().post(
        "/accounts/login/",
        {"login": "someone@example.com", "password": PASSWORD, "csrfmiddlewaretoken": CSRF},
    )
    headers = {
        "Authorization": f"Bearer {API_KEY}",
        "Cookie": f"sessionid={SESSION_ID}; csrftoken={CSRF}",
        "Timbre-Signature": SIGNATURE,
        "xi-api-key": API_KEY,
    }
    with captured_logs() as out:
        logger.info("Login form %s", form.POST)  # a QueryDict's repr
        logger.info("Headers %s", headers)
        logger.info("Body password=%s&email=a%%40b.c", PASSWORD)
        logger.info('JSON {"password": "%s", "password2": "%s"}', PASSWORD, PASSWORD)
        logger.info("Rotated to %s", WEBHOOK_SECRET)
        logger.info("Key in free text: %s", API_KEY)
        logger.warning(
            "With extras",
            extra={
                "payload": {"password1": PASSWORD, "nested": {"secret": WEBHOOK_SECRET}},
                "api_key": API_KEY,
                "header_list": [f"Authorization: Bearer {API_KEY}"],
            },
        )
        try:
            raise ValueError(f"cannot parse cookie sessionid={SESSION_ID}")
        except ValueError:
            logger.exception("Request failed for key %s", API_KEY)
    output = out.getvalue()
    _assert_clean(output)
    lines = json_lines(out)
    assert len(lines) == 8  # every record is still there, scrubbed
    assert "[scrubbed]" in lines[0]["message"] and "someone@example.com" in lines[0]["message"]
    assert lines[1]["message"].count("[scrubbed]") == 4
    assert lines[2]["message"] == "Body password=[scrubbed]&email=a%40b.c"
    assert lines[4]["message"] == "Rotated to whsec_[scrubbed]"
    assert lines[5]["message"] == "Key in free text: [api-key]"
    assert lines[6]["payload"] == {"password1": "[scrubbed]", "nested": {"secret": "[scrubbed]"}}
    assert lines[6]["api_key"] == "[scrubbed]"
    assert "sessionid=[scrubbed]" in lines[7]["exception"]


def test_plain_lines_carry_the_request_id_and_are_scrubbed():
    token = request_id_var.set("req-plain")
    try:
        with captured_logs(fmt="plain") as out:
            logger.warning("password=%s", PASSWORD)
    finally:
        request_id_var.reset(token)
    (line,) = out.getvalue().splitlines()
    assert line.endswith("WARNING timbre.tests.logging [req-plain] password=[scrubbed]")


@pytest.mark.django_db
def test_records_made_during_a_request_carry_its_id(client):
    with captured_logs() as out:
        response = client.get(
            "/api/v1/no-such-thing", HTTP_X_REQUEST_ID="req-from-proxy", HTTP_COOKIE="a=b"
        )
    assert response.status_code == 404
    assert response["X-Request-ID"] == "req-from-proxy"
    lines = json_lines(out)
    assert lines and all(line["request_id"] == "req-from-proxy" for line in lines), lines
    # Django's own response log, written after the middleware returned, has it too.
    assert any(line["logger"] == "django.request" for line in lines), lines
    assert request_id_var.get() == NO_REQUEST  # nothing leaks into what runs next


def test_scrubbing_stays_linear_on_hostile_input():
    # Nested quantifiers would make these take minutes; the patterns are possessive.
    for text in ("a-" * 50_000, "token=" * 30_000, "'" * 100_000, '"password": "' + "a" * 99_999):
        assert scrub(text)


def test_logging_config_routes_django_through_the_filtered_handler():
    config = logging_config(fmt="json", level="DEBUG")
    assert config["handlers"]["console"]["filters"] == ["request_id", "scrub"]
    assert config["loggers"]["django"] == {"handlers": [], "level": "INFO", "propagate": True}
    assert logging_config(fmt="plain", level="WARNING")["loggers"]["django"]["level"] == "WARNING"


def test_production_settings_log_json_lines_by_default(tmp_path):
    """A process on the production settings: its records come out as scrubbed JSON lines."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("DJANGO_", "LOG_", "DATABASE_", "CELERY_", "REDIS_"))
    }
    env.update(
        DJANGO_SETTINGS_MODULE="config.settings.production",
        DJANGO_SECRET_KEY="x" * 50,
        ALLOWED_HOSTS="timbre.example.com",
        DATABASE_URL="postgres://timbre:pw@127.0.0.1:9/timbre",
        TIMBRE_DATA_DIR=str(tmp_path),
    )
    code = (
        "import django, logging; django.setup(); "
        "from django.conf import settings; print(settings.LOG_FORMAT); "
        f"logging.getLogger('timbre.check').warning('login password=%s', {PASSWORD!r})"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        env=env,
        cwd=settings.BASE_DIR,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "json"
    line = json.loads(result.stderr.strip().splitlines()[-1])
    assert line["message"] == "login password=[scrubbed]"
    assert (line["level"], line["logger"], line["request_id"]) == ("WARNING", "timbre.check", "-")
    assert PASSWORD not in result.stderr
