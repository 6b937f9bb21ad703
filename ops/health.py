"""Readiness checks: database, broker, cache, storage and a live synthesis worker.

Each check runs in its own thread and is given HEALTH_CHECK_TIMEOUT_SECONDS: a check that hangs
(a broker that accepts the connection and never answers) is reported as timed out, so readiness
never hangs. A check's own database connection is closed when it ends.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable

from django.conf import settings
from django.core.cache import caches
from django.core.cache.backends.redis import RedisCache
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import connection
from kombu import Connection

from provenance.credentials import provenance_state
from synthesis.workers.status import live_ready_records, live_records, worker_stale_seconds

PROBE_BYTES = b"timbre readiness probe"


class CheckFailed(Exception):
    """A check's own verdict (no traceback, the message is the detail)."""


def check_database() -> dict:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        if cursor.fetchone()[0] != 1:
            raise CheckFailed("SELECT 1 returned something else")
    return {}


def check_broker() -> dict:
    timeout = settings.HEALTH_CHECK_TIMEOUT_SECONDS
    with Connection(
        settings.CELERY_BROKER_URL,
        connect_timeout=timeout,
        transport_options=getattr(settings, "CELERY_BROKER_TRANSPORT_OPTIONS", {}),
    ) as conn:
        conn.ensure_connection(max_retries=0, timeout=timeout)
        conn.channel().close()  # a channel, not only a socket (Redis is pinged here)
    return {}


def _cache_calls():
    """set/get/delete of the default cache, without the fail-open layer (config.cache) that
    would hide an outage as a miss."""
    cache = caches["default"]
    if isinstance(cache, RedisCache):
        return (
            lambda *a: RedisCache.set(cache, *a),
            lambda *a: RedisCache.get(cache, *a),
            lambda *a: RedisCache.delete(cache, *a),
        )
    return cache.set, cache.get, cache.delete


def check_cache() -> dict:
    set_, get, delete = _cache_calls()
    key = f"timbre:health:{uuid.uuid4().hex}"
    value = uuid.uuid4().hex
    set_(key, value, 30)
    try:
        if get(key) != value:
            raise CheckFailed("the cache did not return the value just stored")
    finally:
        delete(key)
    return {}


def check_storage() -> dict:
    name = default_storage.save(f"health/probe-{uuid.uuid4().hex}.txt", ContentFile(PROBE_BYTES))
    try:
        with default_storage.open(name, "rb") as stored:
            if stored.read() != PROBE_BYTES:
                raise CheckFailed("the storage returned other bytes than those written")
    finally:
        default_storage.delete(name)
    return {}


class WorkersNotReady(CheckFailed):
    def __init__(self, message: str, unavailable: dict[str, str]):
        super().__init__(message)
        self.unavailable = unavailable


def check_workers() -> dict:
    records = list(live_ready_records().values_list("engine", "hostname"))
    if not records:
        # Live workers whose engine did not load say why (e.g. no model weights).
        unavailable = dict(
            live_records().filter(ready=False).values_list("engine", "reason").order_by("engine")
        )
        raise WorkersNotReady(
            "No synthesis worker has reported an engine ready in the last "
            f"{worker_stale_seconds():g} s.",
            unavailable,
        )
    return {
        "engines": sorted({engine for engine, _ in records}),
        "workers": len(records),
        "provenance": provenance_state(),
    }


CHECKS: dict[str, Callable[[], dict]] = {
    "database": check_database,
    "broker": check_broker,
    "cache": check_cache,
    "storage": check_storage,
    "workers": check_workers,
}


def _error_text(exc: BaseException) -> str:
    if isinstance(exc, CheckFailed):
        return str(exc)
    text = str(exc).strip() or "no detail"
    return f"{type(exc).__name__}: {text}"[:300]


def _run(check: Callable[[], dict], result: dict) -> None:
    started = time.monotonic()
    try:
        result.update(check())
        result["ok"] = True
    except Exception as exc:
        result.update(ok=False, error=_error_text(exc))
        if isinstance(exc, WorkersNotReady) and exc.unavailable:
            result["unavailable"] = exc.unavailable
    finally:
        result["ms"] = round((time.monotonic() - started) * 1000, 1)
        connection.close()  # this thread's own connection, if the check opened one


def readiness() -> tuple[bool, dict[str, dict]]:
    """Run every check at once, each bounded; (all ok, per-check detail)."""
    timeout = settings.HEALTH_CHECK_TIMEOUT_SECONDS
    results: dict[str, dict] = {name: {} for name in CHECKS}
    threads = {
        name: threading.Thread(
            target=_run, args=(check, results[name]), name=f"health-{name}", daemon=True
        )
        for name, check in CHECKS.items()
    }
    for thread in threads.values():
        thread.start()
    deadline = time.monotonic() + timeout
    checks: dict[str, dict] = {}
    for name, thread in threads.items():
        thread.join(max(0.0, deadline - time.monotonic()))
        if thread.is_alive():
            checks[name] = {"ok": False, "error": f"timed out after {timeout:g} s"}
        else:
            checks[name] = dict(results[name])
    return all(c["ok"] for c in checks.values()), checks
