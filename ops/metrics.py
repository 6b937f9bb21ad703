"""Prometheus metrics (prometheus-client): what the web measures, and what it reads at scrape.

Two sources, so that gunicorn's several processes and the Celery workers need no metrics server:

* **Measured in the web process** — request latency by view (`timbre_http_request_duration_
  seconds`, labelled with the resolved route name, method and status class) and 5xx responses
  (`timbre_http_server_errors_total`), by `ops.middleware.RequestMetricsMiddleware`. Under
  gunicorn with several processes set PROMETHEUS_MULTIPROC_DIR to an empty directory per start
  (a tmpfs in compose, systemd's RuntimeDirectory): each process writes its samples there and a
  scrape, whichever process answers it, sums them (prometheus-client's multiprocess mode).
* **Computed at scrape time** — by collectors that read the database and the broker: jobs by
  status, queue depth per queue, synthesis seconds and real-time factor by engine, characters,
  finished and failed jobs, webhook deliveries, workers with an engine ready. The workers *push*
  their measurements into the database (each job row keeps its compute and audio seconds,
  characters and outcome; each worker its heartbeat), so they expose no port of their own and a
  scrape sees the whole deployment at once. The `_total` series are counts of rows: deleting rows
  (an account deleted) lowers them, which Prometheus reads as a counter reset.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db.models import Count, F, FloatField, Q, Sum
from django.db.models.functions import Cast
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.utils import floatToGoString

from synthesis.models import SynthesisJob, WebhookDelivery
from synthesis.workers.status import live_ready_records

logger = logging.getLogger(__name__)

if "PROMETHEUS_MULTIPROC_DIR" in os.environ:
    _dir = os.environ["PROMETHEUS_MULTIPROC_DIR"]
    if not _dir:
        raise ImproperlyConfigured(
            "PROMETHEUS_MULTIPROC_DIR is set but empty: unset it, or name an empty directory."
        )
    os.makedirs(_dir, exist_ok=True)

REQUEST_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120)
SYNTHESIS_BUCKETS = (0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600, 10800)
RTF_BUCKETS = (0.05, 0.1, 0.25, 0.5, 0.75, 1, 1.5, 2, 3, 5, 10)
METHODS = {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"}
UNKNOWN_ENGINE = "unknown"  # the job's voice was deleted

REQUEST_SECONDS = Histogram(
    "timbre_http_request_duration_seconds",
    "Time to produce a response (a stream: its headers), by route name, method and status class.",
    ["view", "method", "status"],
    buckets=REQUEST_BUCKETS,
)
SERVER_ERRORS = Counter(
    "timbre_http_server_errors",
    "Responses with a 5xx status, by route name and method.",
    ["view", "method"],
)


def request_observe(*, view: str, method: str, status_code: int, seconds: float) -> None:
    method = method if method in METHODS else "other"
    REQUEST_SECONDS.labels(view, method, f"{status_code // 100}xx").observe(seconds)
    if status_code >= 500:
        SERVER_ERRORS.labels(view, method).inc()


# --- computed at scrape time -------------------------------------------------------------------
def _buckets(row: dict, prefix: str, bounds) -> list[tuple[str, float]]:
    cumulative = [(floatToGoString(b), row[f"{prefix}{i}"]) for i, b in enumerate(bounds)]
    return [*cumulative, ("+Inf", row[f"{prefix}count"])]


def _engine(value) -> str:
    return value or UNKNOWN_ENGINE


def database_families() -> list:
    """The series computed from the database (a few grouped queries per scrape)."""
    jobs = GaugeMetricFamily(
        "timbre_synthesis_jobs", "Synthesis jobs by status (rows).", labels=["status"]
    )
    by_status = dict.fromkeys(SynthesisJob.Status.values, 0)
    for row in SynthesisJob.objects.order_by().values("status").annotate(n=Count("pk")):
        by_status[row["status"]] = row["n"]
    for status, n in by_status.items():
        jobs.add_metric([status], n)

    finished = CounterMetricFamily(
        "timbre_synthesis_jobs_finished",
        "Jobs that ended, by engine and outcome (failed: errors, refunded).",
        labels=["engine", "status"],
    )
    rows = (
        SynthesisJob.objects.order_by()
        .filter(status__in=SynthesisJob.TERMINAL)
        .values("voice__engine", "status")
        .annotate(n=Count("pk"))
    )
    totals: dict[tuple[str, str], int] = {}
    for row in rows:
        key = (_engine(row["voice__engine"]), row["status"])
        totals[key] = totals.get(key, 0) + row["n"]
    for labels, n in sorted(totals.items()):
        finished.add_metric(list(labels), n)

    compute = HistogramMetricFamily(
        "timbre_synthesis_compute_seconds",
        "Seconds a worker spent rendering each succeeded job, by engine.",
        labels=["engine"],
    )
    rtf = HistogramMetricFamily(
        "timbre_synthesis_real_time_factor",
        "Compute seconds per second of audio of each succeeded job, by engine (below 1: faster "
        "than real time).",
        labels=["engine"],
    )
    audio = CounterMetricFamily(
        "timbre_synthesis_audio_seconds",
        "Seconds of audio synthesized, by engine.",
        labels=["engine"],
    )
    characters = CounterMetricFamily(
        "timbre_synthesis_characters",
        "Characters synthesized (succeeded jobs), by engine.",
        labels=["engine"],
    )
    timed = Q(audio_seconds__gt=0)
    aggregates = {
        "ccount": Count("pk"),
        "csum": Sum("compute_seconds"),
        "rcount": Count("pk", filter=timed),
        "rsum": Sum(
            Cast("compute_seconds", FloatField()) / Cast("audio_seconds", FloatField()),
            filter=timed,
        ),
        "audio": Sum("audio_seconds"),
        "characters": Sum("characters"),
    }
    for i, bound in enumerate(SYNTHESIS_BUCKETS):
        aggregates[f"c{i}"] = Count("pk", filter=Q(compute_seconds__lte=bound))
    for i, bound in enumerate(RTF_BUCKETS):
        aggregates[f"r{i}"] = Count(
            "pk", filter=timed & Q(compute_seconds__lte=F("audio_seconds") * bound)
        )
    rows = (
        SynthesisJob.objects.order_by()
        .filter(status=SynthesisJob.Status.SUCCEEDED, compute_seconds__isnull=False)
        .values("voice__engine")
        .annotate(**aggregates)
    )
    merged: dict[str, dict] = {}
    for row in rows:  # a deleted voice ("") and no voice (None) are both "unknown"
        into = merged.setdefault(_engine(row["voice__engine"]), dict.fromkeys(row, 0))
        for key, value in row.items():
            if key != "voice__engine":
                into[key] += value or 0
    for engine, row in sorted(merged.items()):
        compute.add_metric([engine], _buckets(row, "c", SYNTHESIS_BUCKETS), row["csum"])
        rtf.add_metric([engine], _buckets(row, "r", RTF_BUCKETS), row["rsum"])
        audio.add_metric([engine], row["audio"])
        characters.add_metric([engine], row["characters"])

    deliveries = GaugeMetricFamily(
        "timbre_webhook_deliveries", "Webhook deliveries by status (rows).", labels=["status"]
    )
    attempts = CounterMetricFamily(
        "timbre_webhook_delivery_attempts", "POSTs made to webhook URLs.", labels=["status"]
    )
    by_delivery = dict.fromkeys(WebhookDelivery.Status.values, (0, 0))
    for row in (
        WebhookDelivery.objects.order_by()
        .values("status")
        .annotate(n=Count("pk"), tries=Sum("attempts"))
    ):
        by_delivery[row["status"]] = (row["n"], row["tries"] or 0)
    for status, (n, tries) in by_delivery.items():
        deliveries.add_metric([status], n)
        attempts.add_metric([status], tries)

    workers = GaugeMetricFamily(
        "timbre_engine_workers_ready",
        "Synthesis workers with the engine loaded and a fresh heartbeat.",
        labels=["engine"],
    )
    for row in live_ready_records().order_by().values("engine").annotate(n=Count("pk")):
        workers.add_metric([row["engine"]], row["n"])
    return [jobs, finished, compute, rtf, audio, characters, deliveries, attempts, workers]


def broker_queue_depths() -> dict[str, int]:
    """Messages waiting in each queue, asked of the broker (passive declares: nothing created)."""
    from kombu import Connection

    from config.celery import QUEUES, engine_queue
    from synthesis.engines import engine_names

    timeout = settings.HEALTH_CHECK_TIMEOUT_SECONDS
    depths: dict[str, int] = {}
    with Connection(
        settings.CELERY_BROKER_URL,
        connect_timeout=timeout,
        transport_options=getattr(settings, "CELERY_BROKER_TRANSPORT_OPTIONS", {}),
    ) as conn:
        conn.ensure_connection(max_retries=0, timeout=timeout)
        for queue in [*QUEUES, *(engine_queue(name) for name in engine_names())]:
            channel = conn.channel()
            try:
                depths[queue] = channel.queue_declare(queue=queue, passive=True).message_count
            except conn.channel_errors:
                # Not declared (RabbitMQ: no worker consumed it yet) or, on Redis, empty (an
                # empty list does not exist): either way nothing is waiting.
                depths[queue] = 0
            finally:
                # A channel the broker closed after a failed declare cannot close again.
                with contextlib.suppress(Exception):
                    channel.close()
    return depths


class ScrapeCollector:
    """Database and broker series, each bounded: a source that fails or hangs is reported down
    (`timbre_metrics_source_up`), never a failed scrape."""

    def collect(self):
        up = GaugeMetricFamily(
            "timbre_metrics_source_up",
            "1 when the source answered this scrape in time.",
            labels=["source"],
        )
        families, ok = _bounded(database_families, "database")
        yield from families or []
        up.add_metric(["database"], 1 if ok else 0)
        depths, ok = _bounded(broker_queue_depths, "broker")
        depth = GaugeMetricFamily(
            "timbre_broker_queue_messages", "Messages waiting in each queue.", labels=["queue"]
        )
        for queue, n in sorted((depths or {}).items()):
            depth.add_metric([queue], n)
        yield depth
        up.add_metric(["broker"], 1 if ok else 0)
        yield up


def _bounded(call, source: str):
    """(result, True), or (None, False) when `call` fails or outlasts the timeout."""
    from django.db import connection

    result: dict = {}

    def run() -> None:
        try:
            result["value"] = call()
        except Exception as exc:
            logger.warning("Metrics: the %s did not answer: %s", source, exc)
        finally:
            connection.close()

    thread = threading.Thread(target=run, name=f"metrics-{source}", daemon=True)
    thread.start()
    thread.join(settings.HEALTH_CHECK_TIMEOUT_SECONDS * 2)
    if thread.is_alive() or "value" not in result:
        return None, False
    return result["value"], True


class _ThisProcess:
    """The default registry (this process's request metrics, process and Python stats)."""

    def collect(self):
        return REGISTRY.collect()


def exposition() -> tuple[bytes, str]:
    """The text a scrape gets, and its content type."""
    registry = CollectorRegistry(auto_describe=False)
    if settings.PROMETHEUS_MULTIPROC_DIR:
        MultiProcessCollector(registry, path=settings.PROMETHEUS_MULTIPROC_DIR)
    else:
        registry.register(_ThisProcess())
    registry.register(ScrapeCollector())
    return generate_latest(registry), CONTENT_TYPE_LATEST
