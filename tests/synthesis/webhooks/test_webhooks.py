"""Webhooks against a real local HTTP server: signature, retries with backoff, refusals."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from synthesis.models import WebhookDelivery
from synthesis.tasks import webhook_deliver
from synthesis.webhooks import services as webhooks
from tests.synthesis.api_helpers import (
    job_fail,
    job_finish,
    job_request,
    make_ready_voice,
    session_client,
)

pytestmark = pytest.mark.django_db


class Receiver:
    """An HTTP server on 127.0.0.1 answering the statuses it is given, in order."""

    def __init__(self, statuses):
        self.statuses = list(statuses)
        self.requests: list[dict] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                length = int(self.headers.get("Content-Length", 0))
                receiver.requests.append(
                    {"headers": dict(self.headers), "body": self.rfile.read(length)}
                )
                status = receiver.statuses.pop(0) if receiver.statuses else 200
                self.send_response(status)
                if status in (301, 302, 307):
                    self.send_header("Location", "http://127.0.0.1:9/elsewhere")
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hooks/timbre"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver_factory(settings):
    settings.WEBHOOKS_ALLOW_PRIVATE = True
    settings.WEBHOOK_RETRY_BASE_SECONDS = 2
    settings.WEBHOOK_MAX_ATTEMPTS = 3
    made = []

    def make(*statuses):
        made.append(Receiver(statuses))
        return made[-1]

    yield make
    for receiver in made:
        receiver.close()


@pytest.fixture
def voice(owner):
    return make_ready_voice(owner, "V")


@pytest.fixture
def sent(monkeypatch):
    """Deliveries queued on commit, run eagerly (retries included) as a worker would."""
    queued = []
    monkeypatch.setattr(
        "config.queueing.task_send",
        lambda name, **kw: queued.append(kw) if name == webhook_deliver.name else None,
    )
    return queued


def test_success_is_signed_and_retried_after_a_failure(
    owner, voice, receiver_factory, sent, django_capture_on_commit_callbacks
):
    receiver = receiver_factory(500, 200)
    with django_capture_on_commit_callbacks(execute=True):
        job = job_finish(job_request(owner, voice, "Ring me.", webhook_url=receiver.url))
    assert len(sent) == 1
    delivery = WebhookDelivery.objects.get(pk=sent[0]["delivery_id"])
    assert delivery.event == "synthesis.job.succeeded" and delivery.job == job

    # First attempt: the endpoint fails; the next one is due after the base delay.
    assert webhooks.delivery_attempt(delivery_id=delivery.pk) == 2
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, delivery.last_status_code) == ("pending", 1, 500)
    assert delivery.next_attempt_at is not None and "HTTP 500" in delivery.last_error
    # Second attempt (what the Celery retry runs): delivered.
    assert webhooks.delivery_attempt(delivery_id=delivery.pk) is None
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, delivery.last_status_code) == ("delivered", 2, 200)
    assert delivery.delivered_at is not None
    assert webhooks.delivery_attempt(delivery_id=delivery.pk) is None  # done: nothing more sent
    assert len(receiver.requests) == 2

    secret = webhooks.secret_get(owner=owner).secret
    request = receiver.requests[-1]
    headers = {k.lower(): v for k, v in request["headers"].items()}
    assert webhooks.signature_verify(
        header=headers["timbre-signature"], body=request["body"], secret=secret
    )
    assert not webhooks.signature_verify(
        header=headers["timbre-signature"], body=request["body"] + b" ", secret=secret
    )
    assert not webhooks.signature_verify(
        header=headers["timbre-signature"], body=request["body"], secret="whsec_wrong"
    )
    assert headers["timbre-event"] == "synthesis.job.succeeded"
    assert headers["timbre-delivery"] == str(delivery.code)
    payload = json.loads(request["body"])
    assert payload["type"] == "synthesis.job.succeeded"
    assert payload["data"]["job"]["id"] == str(job.code)
    assert payload["data"]["job"]["status"] == "succeeded"
    assert payload["data"]["job"]["audio_url"].endswith(f"/api/v1/synthesis/{job.code}/audio")


def test_the_celery_task_retries_with_backoff(owner, voice, receiver_factory, monkeypatch):
    receiver = receiver_factory(503, 502, 200)
    job = job_request(owner, voice, "Retry me.", webhook_url=receiver.url)
    delivery = webhooks.delivery_create(
        owner=owner, url=receiver.url, event="synthesis.job.succeeded", job=job
    )
    countdowns = []
    original = webhook_deliver.retry

    def record(*args, **kwargs):
        countdowns.append(kwargs.get("countdown"))
        return original(*args, **kwargs)

    monkeypatch.setattr(webhook_deliver, "retry", record)
    webhook_deliver.apply(kwargs={"delivery_id": delivery.pk})  # eager: retries run at once
    delivery.refresh_from_db()
    assert delivery.status == "delivered" and delivery.attempts == 3
    assert countdowns == [2, 4]  # exponential: base, 2 x base
    assert len(receiver.requests) == 3


def test_gives_up_after_the_last_attempt(owner, voice, receiver_factory):
    receiver = receiver_factory(500, 500, 500, 500)
    job = job_request(owner, voice, webhook_url=receiver.url)
    delivery = webhooks.delivery_create(owner=owner, url=receiver.url, event="x", job=job)
    webhook_deliver.apply(kwargs={"delivery_id": delivery.pk})
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == ("failed", 3)
    assert len(receiver.requests) == 3


def test_failure_event_and_redirects_are_not_followed(
    owner, voice, receiver_factory, sent, django_capture_on_commit_callbacks
):
    receiver = receiver_factory(302)
    with django_capture_on_commit_callbacks(execute=True):
        job_fail(job_request(owner, voice, webhook_url=receiver.url), error="No luck.")
    delivery = WebhookDelivery.objects.get(pk=sent[0]["delivery_id"])
    assert delivery.event == "synthesis.job.failed"
    assert delivery.payload["data"]["job"]["error"] == "No luck."
    webhooks.delivery_attempt(delivery_id=delivery.pk)
    delivery.refresh_from_db()
    assert delivery.last_status_code == 302 and delivery.status == "pending"
    assert len(receiver.requests) == 1  # the redirect target was never called


def test_private_addresses_are_refused_again_at_delivery_time(owner, voice, settings):
    settings.WEBHOOKS_ALLOW_PRIVATE = True
    job = job_request(owner, voice, webhook_url="http://127.0.0.1:9/h")
    delivery = webhooks.delivery_create(
        owner=owner, url="http://127.0.0.1:9/h", event="synthesis.job.succeeded", job=job
    )
    settings.WEBHOOKS_ALLOW_PRIVATE = False  # e.g. the operator changed it meanwhile
    assert webhooks.delivery_attempt(delivery_id=delivery.pk) is None  # no retry
    delivery.refresh_from_db()
    assert delivery.status == "failed" and delivery.attempts == 1
    assert "private" in delivery.last_error


@pytest.mark.parametrize(
    "url",
    [
        "http://localhost/h",
        "http://[::1]/h",
        "http://169.254.169.254/latest/meta-data",
        "http://[::ffff:127.0.0.1]/h",
        "http://user:pw@example.com/h",
        "javascript:alert(1)",
        "http:///nohost",
        "http://does-not-resolve.invalid/h",
    ],
)
def test_refused_urls(url):
    from config.service_errors import ServiceError

    with pytest.raises(ServiceError) as info:
        webhooks.webhook_url_check(url)
    assert info.value.code == "invalid_webhook_url"


def test_delivery_log_in_the_api(owner, voice, stranger, receiver_factory):
    receiver = receiver_factory(200)
    job = job_finish(job_request(owner, voice, webhook_url=receiver.url))
    delivery = WebhookDelivery.objects.get(job=job)
    webhooks.delivery_attempt(delivery_id=delivery.pk)
    client = session_client(owner)
    listed = client.get(f"/api/v1/webhooks/deliveries?job={job.code}").json()
    assert listed["count"] == 1
    item = listed["results"][0]
    assert (item["status"], item["attempts"], item["last_status_code"]) == ("delivered", 1, 200)
    assert item["job"] == str(job.code)
    assert client.get(f"/api/v1/webhooks/deliveries/{delivery.code}").status_code == 200
    theirs = session_client(stranger).get(f"/api/v1/webhooks/deliveries/{delivery.code}")
    assert theirs.status_code == 404


@pytest.mark.django_db
def test_payload_has_the_same_fields_as_the_api(owner, voice, owner_client):
    """Webhook payloads are built without the API layer, yet say what the API says."""
    from synthesis.webhooks.payloads import job_payload
    from tests.synthesis.api_helpers import job_finish, job_request

    job = job_finish(job_request(owner, voice))
    api = owner_client.get(f"/api/v1/synthesis/{job.code}").json()
    api.pop("text", None)  # the detail view adds the whole text; payloads keep the preview
    payload = job_payload(job)
    assert payload.keys() == api.keys()
    for key in (
        "id",
        "status",
        "voice",
        "format",
        "sample_rate",
        "cost",
        "audio_bytes",
        "timestamps",
    ):
        assert payload[key] == api[key], key
    for fmt in ("vtt", "srt"):  # the API answers with the request's host, deliveries SITE_URL
        assert payload["captions"][fmt].endswith(api["captions"][fmt].split("testserver")[1])
    assert payload["audio_url"].endswith(f"/api/v1/synthesis/{job.code}/audio")
