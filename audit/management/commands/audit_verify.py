"""Verify the audit log's hash chain: `python manage.py audit_verify [--since SEQ|DATE]`."""

import argparse
from datetime import UTC, datetime

from django.core.management.base import BaseCommand, CommandError

from audit.verify import audit_chain_verify


def _since(value: str) -> int | datetime:
    if value.isdigit():
        return int(value)
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"--since takes a sequence number or an ISO date/time, not {value!r}."
        ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


class Command(BaseCommand):
    help = (
        "Walk the audit log's hash chain in order and name every edited, missing (deleted) and "
        "inserted event. Exits non-zero when the chain is broken."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--since",
            type=_since,
            help="Start at this sequence number or ISO date/time (default: the first event).",
        )
        parser.add_argument(
            "--batch-size", type=int, default=2000, help="Events read per query (default 2000)."
        )

    def handle(self, *args, since, batch_size, **options):
        if batch_size < 1:
            raise CommandError("--batch-size must be at least 1.")
        result = audit_chain_verify(since=since, batch_size=batch_size)
        for problem in result.problems:
            self.stderr.write(str(problem))
        if not result.ok:
            raise CommandError(result.summary(), returncode=1)
        if options["verbosity"] > 0:
            self.stdout.write(result.summary())
