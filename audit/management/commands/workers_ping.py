"""Check that a worker answers on every queue: `python manage.py workers_ping`."""

import time
import uuid

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from audit.models import AuditEvent
from config.celery import QUEUES, app


class Command(BaseCommand):
    help = "Send a ping task to each Celery queue and wait until a worker has answered each."

    def add_arguments(self, parser):
        parser.add_argument("--timeout", type=float, default=30.0)
        parser.add_argument("--queue", action="append", choices=QUEUES, dest="queues")

    def handle(self, *args, timeout, queues, **options):
        tokens = {queue: f"{queue}-{uuid.uuid4().hex}" for queue in (queues or QUEUES)}
        for queue, token in tokens.items():
            transaction.on_commit(  # by name: nothing imports a tasks module
                lambda q=queue, t=token: app.send_task(
                    "audit.tasks.worker_ping", kwargs={"token": t}, queue=q
                )
            )
        pending = dict(tokens)
        deadline = time.monotonic() + timeout
        while pending and time.monotonic() < deadline:
            answered = AuditEvent.objects.filter(
                action="system.worker.pinged", target_id__in=pending.values()
            ).values_list("target_id", "data")
            for token, data in answered:
                queue = token.split("-", 1)[0]
                self.stdout.write(f"{queue}: answered by {data.get('hostname') or 'a worker'}")
                pending.pop(queue, None)
            time.sleep(0.25)
        if pending:
            raise CommandError(
                f"No worker answered on: {', '.join(pending)} within {timeout:.0f} s. "
                "Is `make run` (or a `celery -A config worker -Q <queue>`) running?"
            )
