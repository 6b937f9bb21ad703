"""/metrics: who may read it, and the series a request and finished jobs leave there."""

from __future__ import annotations

import pytest

from synthesis.models import SynthesisJob, WebhookDelivery
from tests.factories import UserFactory
from tests.ops.conftest import samples, scrape
from voices.models import Voice

OUTSIDER = "203.0.113.9"


@pytest.fixture
def metrics_settings(settings):
    settings.METRICS_TOKEN = "s3cret-metrics-token-for-tests"
    settings.METRICS_ALLOWED_NETWORKS = ["127.0.0.1/32", "::1/128"]
    settings.HEALTH_CHECK_TIMEOUT_SECONDS = 2.0
    return settings


def test_loopback_may_read_and_others_are_refused(transactional_db, client, metrics_settings):
    assert client.get("/metrics").status_code == 200  # the test client is 127.0.0.1
    assert client.get("/metrics", REMOTE_ADDR="::1").status_code == 200
    assert client.get("/metrics", REMOTE_ADDR="::ffff:127.0.0.1").status_code == 200  # dual stack
    refused = client.get("/metrics", REMOTE_ADDR=OUTSIDER)
    assert refused.status_code == 403
    assert b"METRICS_ALLOWED_NETWORKS" in refused.content
    assert b"timbre_" not in refused.content


def test_bearer_token_opens_it_from_anywhere_and_a_wrong_one_is_401(
    transactional_db, client, metrics_settings
):
    good = {"HTTP_AUTHORIZATION": "Bearer s3cret-metrics-token-for-tests"}
    assert client.get("/metrics", REMOTE_ADDR=OUTSIDER, **good).status_code == 200
    for header in ("Bearer wrong", "Bearer ", "bearer s3cret-metrics-token-for-test"):
        response = client.get("/metrics", HTTP_AUTHORIZATION=header)  # even from loopback
        assert response.status_code == 401, header
        assert response["WWW-Authenticate"].startswith("Bearer")
    metrics_settings.METRICS_TOKEN = ""  # no token configured: none is accepted
    assert client.get("/metrics", REMOTE_ADDR=OUTSIDER, **good).status_code == 401


def test_allowed_networks_judge_the_client_behind_the_declared_proxies(
    transactional_db, client, metrics_settings
):
    metrics_settings.METRICS_ALLOWED_NETWORKS = ["10.0.0.0/8"]
    metrics_settings.NUM_PROXIES = 1
    proxy = {"REMOTE_ADDR": "172.18.0.5"}
    assert client.get("/metrics", HTTP_X_FORWARDED_FOR="10.1.2.3", **proxy).status_code == 200
    # A spoofed first hop does not count: only the entry our proxy appended does.
    spoofed = "10.1.2.3, " + OUTSIDER
    assert client.get("/metrics", HTTP_X_FORWARDED_FOR=spoofed, **proxy).status_code == 403
    assert client.get("/metrics").status_code == 403  # loopback is no longer listed
    assert client.post("/metrics").status_code == 405


def _value(found, name, **labels):
    return found.get((name, tuple(sorted(labels.items()))), 0.0)


def test_requests_finished_jobs_and_deliveries_show_up(transactional_db, client, metrics_settings):
    owner = UserFactory(email="metrics@example.com")
    voice = Voice.objects.create(owner=owner, name="Tone", engine="toy", status="ready")
    common = {"owner": owner, "voice": voice, "text": "x"}
    SynthesisJob.objects.create(
        **common, status="succeeded", characters=100, compute_seconds=2.0, audio_seconds=4.0
    )
    SynthesisJob.objects.create(
        **common, status="succeeded", characters=50, compute_seconds=3.0, audio_seconds=2.0
    )
    SynthesisJob.objects.create(**common, status="failed", characters=10, compute_seconds=0.1)
    SynthesisJob.objects.create(**common, status="queued", characters=7)
    WebhookDelivery.objects.create(owner=owner, event="e", url="https://x.test", status="failed",
                                   attempts=6)  # fmt: skip
    WebhookDelivery.objects.create(
        owner=owner, event="e", url="https://x.test", status="delivered", attempts=1
    )

    before = scrape(client)
    assert client.get("/health/live").status_code == 200
    assert client.get("/no/such/page/").status_code == 404
    after = scrape(client)

    live = {"view": "ops:health-live", "method": "GET", "status": "2xx"}
    name = "timbre_http_request_duration_seconds_count"
    assert _value(after, name, **live) == _value(before, name, **live) + 1
    missing = {"view": "<unresolved>", "method": "GET", "status": "4xx"}
    assert _value(after, name, **missing) == _value(before, name, **missing) + 1
    assert _value(after, "timbre_http_request_duration_seconds_sum", **live) > 0

    toy = {"engine": "toy"}
    assert _value(after, "timbre_synthesis_jobs", status="succeeded") == 2
    assert _value(after, "timbre_synthesis_jobs", status="queued") == 1
    assert _value(after, "timbre_synthesis_jobs", status="running") == 0
    finished = "timbre_synthesis_jobs_finished_total"
    assert _value(after, finished, engine="toy", status="succeeded") == 2
    assert _value(after, finished, engine="toy", status="failed") == 1
    assert _value(after, "timbre_synthesis_characters_total", **toy) == 150
    assert _value(after, "timbre_synthesis_audio_seconds_total", **toy) == 6.0
    # Compute seconds 2 and 3; real-time factors 0.5 and 1.5.
    assert _value(after, "timbre_synthesis_compute_seconds_count", **toy) == 2
    assert _value(after, "timbre_synthesis_compute_seconds_sum", **toy) == 5.0
    assert _value(after, "timbre_synthesis_compute_seconds_bucket", le="2.5", **toy) == 1
    assert _value(after, "timbre_synthesis_compute_seconds_bucket", le="+Inf", **toy) == 2
    rtf = "timbre_synthesis_real_time_factor"
    assert _value(after, f"{rtf}_count", **toy) == 2
    assert _value(after, f"{rtf}_sum", **toy) == pytest.approx(2.0)
    assert _value(after, f"{rtf}_bucket", le="0.25", **toy) == 0
    assert _value(after, f"{rtf}_bucket", le="0.5", **toy) == 1
    assert _value(after, f"{rtf}_bucket", le="1.0", **toy) == 1
    assert _value(after, f"{rtf}_bucket", le="1.5", **toy) == 2
    assert _value(after, "timbre_webhook_deliveries", status="failed") == 1
    assert _value(after, "timbre_webhook_deliveries", status="pending") == 0
    assert _value(after, "timbre_webhook_delivery_attempts_total", status="failed") == 6
    assert _value(after, "timbre_metrics_source_up", source="database") == 1
    assert _value(after, "timbre_metrics_source_up", source="broker") == 1
    assert ("timbre_broker_queue_messages", (("queue", "synthesis"),)) in after


@pytest.mark.urls("tests.ops.urls_boom")
def test_server_errors_are_counted_by_view(transactional_db, client, metrics_settings):
    client.raise_request_exception = False
    labels = {"view": "boom", "method": "GET"}
    before = _value(scrape(client), "timbre_http_server_errors_total", **labels)
    assert client.get("/boom/").status_code == 500
    after = _value(scrape(client), "timbre_http_server_errors_total", **labels)
    assert after == before + 1


def test_a_broker_that_is_down_is_reported_not_a_failed_scrape(
    transactional_db, client, metrics_settings, closed_port
):
    metrics_settings.CELERY_BROKER_URL = f"amqp://guest:guest@127.0.0.1:{closed_port}//"
    metrics_settings.CELERY_BROKER_TRANSPORT_OPTIONS = {}
    found = scrape(client)
    assert _value(found, "timbre_metrics_source_up", source="broker") == 0
    assert _value(found, "timbre_metrics_source_up", source="database") == 1
    assert not [key for key in found if key[0] == "timbre_broker_queue_messages"]


def test_the_exposition_parses_as_prometheus_text(transactional_db, client, metrics_settings):
    text = client.get("/metrics").content.decode()
    assert "# TYPE timbre_http_request_duration_seconds histogram" in text
    assert "# TYPE timbre_synthesis_real_time_factor histogram" in text
    assert samples(text)  # prometheus-client's own parser reads it back
