"""Users log in with their email; each has a plan that sets their limits."""

import uuid

from django.contrib.auth.models import AbstractUser, BaseUserManager
from django.db import models


class Plan(models.Model):
    """Limits a user works within. Admins edit plans; users get the default one at signup."""

    slug = models.SlugField(unique=True)
    name = models.CharField(max_length=100)
    monthly_characters = models.PositiveIntegerField(default=100_000)
    voice_slots = models.PositiveIntegerField(default=3)
    concurrent_jobs = models.PositiveIntegerField(default=2)
    max_upload_mb = models.PositiveIntegerField(default=20)
    retention_days = models.PositiveIntegerField(default=30)
    storage_mb = models.PositiveIntegerField(default=1024)
    is_default = models.BooleanField(
        default=False, help_text="Given to new users. Exactly one plan should be the default."
    )

    class Meta:
        ordering = ["monthly_characters"]

    def __str__(self) -> str:
        return self.name


class UserManager(BaseUserManager):
    use_in_migrations = True

    def _create_user(self, email, password, **extra):
        if not email:
            raise ValueError("Users need an email address.")
        user = self.model(email=self.normalize_email(email).lower(), **extra)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_user(self, email, password=None, **extra):
        extra.setdefault("is_staff", False)
        extra.setdefault("is_superuser", False)
        return self._create_user(email, password, **extra)

    def create_superuser(self, email, password=None, **extra):
        extra.update(is_staff=True, is_superuser=True)
        return self._create_user(email, password, **extra)


class User(AbstractUser):
    username = None
    email = models.EmailField("email address", unique=True)
    code = models.UUIDField(default=uuid.uuid4, editable=False, unique=True)
    display_name = models.CharField(max_length=150, blank=True)
    plan = models.ForeignKey(
        Plan, null=True, blank=True, on_delete=models.PROTECT, related_name="users"
    )

    USERNAME_FIELD = "email"
    REQUIRED_FIELDS: list[str] = []

    objects = UserManager()

    def __str__(self) -> str:
        return self.email
