"""Thin Celery tasks: nothing imports this module; services queue them by name.

"provenance.tasks.*" runs on the `audio` queue (config/celery.py): untrusted uploads are only
ever decoded there, and audio workers have torch for the watermark detector.
"""

from celery import shared_task

from provenance import detection


@shared_task(name="provenance.tasks.detect_run", acks_late=False)
def detect_run(*, check: str, upload_name: str, max_bytes: int) -> None:
    # Not re-run after a worker crash: the caller has long stopped waiting (acks_late off).
    detection.detect_run(check=check, upload_name=upload_name, max_bytes=max_bytes)
