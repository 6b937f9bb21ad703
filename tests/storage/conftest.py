"""Fixtures of the storage tests: a moto S3 server, a bucket, and a worker that stores in it.

Isolation from the session's `celery_worker` (which stores media on the local filesystem):
the S3 worker and this process exchange tasks through a broker folder of their own, so a task
sent here can only be run by the S3 worker, whatever other tests started before.
"""

from __future__ import annotations

import importlib.util
import uuid
from pathlib import Path

import pytest
from django.conf import settings

from tests.storage.s3 import (
    ACCESS_KEY,
    MAX_MEMORY_SIZE,
    REGION,
    SECRET_KEY,
    MotoServer,
    celery_broker,
    settings_under_env,
)
from tests.workers import WorkerProcess


@pytest.fixture(scope="session")
def moto_server(tmp_path_factory):
    """The running moto server; the tests that need it are skipped when it cannot start."""
    missing = [
        name for name in ("boto3", "moto", "flask") if importlib.util.find_spec(name) is None
    ]
    if missing:
        pytest.skip(f"moto's server mode needs {', '.join(missing)}: pip install 'moto[server]'")
    server = MotoServer(tmp_path_factory.mktemp("moto"))
    try:
        problem = server.wait_ready()
        if problem is not None:
            pytest.skip(f"moto's S3 server could not start: {problem}")
        yield server
    finally:
        server.stop()


@pytest.fixture
def bucket(moto_server) -> str:
    """A new, empty bucket: a test sees exactly the objects it made."""
    name = f"timbre-test-{uuid.uuid4().hex[:12]}"
    moto_server.client().create_bucket(Bucket=name)
    return name


@pytest.fixture
def s3_data_dir(tmp_path) -> Path:
    """TIMBRE_DATA_DIR of the S3 worker: its own broker folder and (unused) local MEDIA_ROOT."""
    path = tmp_path / "s3-data"
    path.mkdir()
    return path


@pytest.fixture
def s3_env(moto_server, bucket, s3_data_dir) -> dict[str, str]:
    """The environment of a process that stores media in the bucket, as an operator sets it."""
    return {
        "AWS_STORAGE_BUCKET_NAME": bucket,
        "AWS_S3_ENDPOINT_URL": moto_server.endpoint,
        "AWS_S3_REGION_NAME": REGION,
        "AWS_S3_ADDRESSING_STYLE": "path",
        "AWS_S3_MAX_MEMORY_SIZE": str(MAX_MEMORY_SIZE),
        "AWS_ACCESS_KEY_ID": ACCESS_KEY,
        "AWS_SECRET_ACCESS_KEY": SECRET_KEY,
        "TIMBRE_DATA_DIR": str(s3_data_dir),
        # A filesystem broker in the data directory above, whatever the session's broker is.
        "CELERY_BROKER_URL": "filesystem://",
    }


@pytest.fixture
def s3_settings(s3_env) -> dict:
    return settings_under_env(s3_env)


@pytest.fixture
def s3_worker(s3_env, s3_settings, xtts_tiny_dir, tmp_path):
    """A real worker (every queue, tiny XTTS checkpoint) whose media storage is the bucket.

    Returned while it is still starting, so the caller can prepare meanwhile; call
    `wait_ready()` before expecting it to work. Tasks this process sends inside the fixture
    reach this worker only (see the module docstring).
    """
    options = s3_settings["BROKER_OPTIONS"]
    Path(options["data_folder_in"]).mkdir(parents=True, exist_ok=True)
    worker = WorkerProcess(
        log_dir=tmp_path,
        extra_env={
            **s3_env,
            "XTTS_MODEL_DIR": str(xtts_tiny_dir),
            "TIMBRE_DEVICE": "cpu",
            # The data directory differs; the secret must not.
            "DJANGO_SECRET_KEY": settings.SECRET_KEY,
        },
    )
    try:
        with celery_broker(s3_settings["BROKER"], options):
            yield worker
    finally:
        worker.stop()
