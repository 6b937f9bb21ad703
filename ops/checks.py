"""System checks for the operations settings (run by `manage.py check` and at start-up)."""

from __future__ import annotations

from django.conf import settings
from django.core.checks import Error, register
from django.core.exceptions import ImproperlyConfigured


@register()
def ops_settings_check(app_configs=None, **kwargs):
    from ops.access import allowed_networks

    errors = []
    try:
        allowed_networks()
    except ImproperlyConfigured as exc:
        errors.append(Error(str(exc), id="ops.E001"))
    # PROMETHEUS_MULTIPROC_DIR set but empty stops start-up in ops.metrics (before any check).
    if settings.WORKER_HEARTBEAT_SECONDS <= 0 or settings.HEALTH_CHECK_TIMEOUT_SECONDS <= 0:
        errors.append(
            Error(
                "WORKER_HEARTBEAT_SECONDS and HEALTH_CHECK_TIMEOUT_SECONDS must be positive.",
                id="ops.E002",
            )
        )
    return errors
