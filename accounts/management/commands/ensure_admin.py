"""Create the first admin once: from DJANGO_SUPERUSER_EMAIL/PASSWORD, or generated and printed."""

import os
import secrets

from allauth.account.models import EmailAddress
from django.core.management.base import BaseCommand
from django.db import transaction

from accounts.models import User
from accounts.selectors import plan_default
from audit.models import AuditEvent
from audit.services import audit_record


class Command(BaseCommand):
    help = "Create a first superuser if none exists (idempotent)."

    @transaction.atomic
    def handle(self, *args, **options):
        if User.objects.filter(is_superuser=True).exists():
            self.stdout.write("An admin already exists; nothing to do.")
            return
        email = os.environ.get("DJANGO_SUPERUSER_EMAIL", "").strip() or "admin@localhost"
        password = os.environ.get("DJANGO_SUPERUSER_PASSWORD", "")
        generated = not password
        password = password or secrets.token_urlsafe(12)
        user = User.objects.create_superuser(email, password, plan=plan_default())
        EmailAddress.objects.create(user=user, email=user.email, verified=True, primary=True)
        audit_record(
            action="accounts.user.admin_created",
            actor_type=AuditEvent.ActorType.SYSTEM,
            target=user,
        )
        self.stdout.write(self.style.SUCCESS(f"Created admin {email}."))
        if generated:
            self.stdout.write(
                self.style.WARNING(
                    f"  Generated password (shown once, change it after logging in): {password}"
                )
            )
