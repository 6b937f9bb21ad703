"""Operational tasks for checking that workers answer."""

from celery import shared_task

from audit.models import AuditEvent
from audit.services import audit_record


@shared_task(name="audit.tasks.worker_ping", bind=True)
def worker_ping(self, *, token: str) -> None:
    """Record that a worker on some queue picked this up (used by `manage.py workers_ping`)."""
    if AuditEvent.objects.filter(action="system.worker.pinged", target_id=token).exists():
        return  # delivered twice: once is the answer
    queue = (self.request.delivery_info or {}).get("routing_key", "")
    audit_record(
        action="system.worker.pinged",
        actor_type=AuditEvent.ActorType.SYSTEM,
        target_type="worker",
        target_id=token,
        data={"queue": queue, "hostname": self.request.hostname or ""},
    )
