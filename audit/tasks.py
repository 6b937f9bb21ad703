"""Operational tasks: worker pings, and the periodic check of the audit chain."""

from celery import shared_task

from audit.models import AuditEvent
from audit.services import audit_alert_raise, audit_checkpoint_save, audit_record
from audit.verify import audit_chain_verify

# An alert keeps at most this many problems (the command lists them all).
ALERT_MAX_PROBLEMS = 200


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


@shared_task(name="audit.tasks.verify_chain")
def verify_chain() -> bool:
    """Beat: verify the whole chain; on failure open (or refresh) the admin-visible alert.

    A chain that verifies becomes the checkpoint the next run looks for (a cut-off end).
    """
    result = audit_chain_verify()
    audit_checkpoint_save(result)
    if not result.ok:
        audit_alert_raise(
            summary=result.summary(),
            problems=[p.as_dict() for p in result.problems[:ALERT_MAX_PROBLEMS]],
        )
    return result.ok
