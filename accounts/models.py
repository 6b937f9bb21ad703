"""Users log in with their email; each has a plan that sets their limits."""

import uuid

from django.contrib.auth.models import AbstractUser, BaseUserManager
from django.db import models
from rest_framework_api_key.models import AbstractAPIKey, BaseAPIKeyManager


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
    # Moderation (accounts.moderation): a suspended user is also inactive (is_active=False),
    # which ends their sessions and keys at once; these say when and why.
    suspended_at = models.DateTimeField(null=True, blank=True, db_index=True)
    suspension_reason = models.TextField(blank=True)

    USERNAME_FIELD = "email"
    REQUIRED_FIELDS: list[str] = []

    objects = UserManager()

    def __str__(self) -> str:
        return self.email

    @property
    def is_suspended(self) -> bool:
        return self.suspended_at is not None


class UserAPIKeyManager(BaseAPIKeyManager):
    def get_usable_keys(self):
        return super().get_usable_keys().select_related("user")


class UserAPIKey(AbstractAPIKey):
    """A user's API key: shown once, stored hashed (djangorestframework-api-key), scoped."""

    objects = UserAPIKeyManager()

    SCOPES = ("tts", "voices:read", "voices:write", "history:read", "usage:read")
    ALL = "all"

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="api_keys")
    scopes = models.JSONField(default=list, blank=True)
    monthly_character_cap = models.PositiveIntegerField(
        null=True, blank=True, help_text="Characters this key may spend a month (empty: no cap)."
    )
    last_used_at = models.DateTimeField(null=True, blank=True)

    class Meta(AbstractAPIKey.Meta):
        verbose_name = "API key"
        verbose_name_plural = "API keys"

    def allows(self, scope: str) -> bool:
        return self.ALL in self.scopes or scope in self.scopes


# --- Usage counters (written only by accounts.usage) ------------------------------------------
class CharacterUsage(models.Model):
    """A user's characters in one calendar month (UTC): spent, and held for jobs in progress.

    `reserved` grows by one conditional UPDATE when a request is accepted and moves to `used`
    (success) or back (failure, cancel) when its job ends; see accounts.usage.
    """

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="character_usage")
    month = models.DateField(help_text="First day of the month (UTC).")
    used = models.PositiveBigIntegerField(default=0)
    reserved = models.PositiveBigIntegerField(default=0)
    # Extra characters an admin granted for this month, on top of the plan's monthly_characters.
    granted = models.PositiveBigIntegerField(default=0)

    class Meta:
        ordering = ["-month"]
        constraints = [
            models.UniqueConstraint(fields=["user", "month"], name="character_usage_per_month")
        ]

    def __str__(self) -> str:
        return f"{self.user} {self.month:%Y-%m}: {self.used} used, {self.reserved} reserved"


class ApiKeyCharacterUsage(models.Model):
    """The same counters per API key, for keys with a monthly_character_cap (and for display)."""

    key = models.ForeignKey(UserAPIKey, on_delete=models.CASCADE, related_name="character_usage")
    month = models.DateField()
    used = models.PositiveBigIntegerField(default=0)
    reserved = models.PositiveBigIntegerField(default=0)

    class Meta:
        ordering = ["-month"]
        constraints = [
            models.UniqueConstraint(fields=["key", "month"], name="key_character_usage_per_month")
        ]

    def __str__(self) -> str:
        return f"{self.key_id} {self.month:%Y-%m}: {self.used} used, {self.reserved} reserved"


class DailyUsage(models.Model):
    """Characters settled (and jobs finished) per user and UTC day: the usage breakdown."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="daily_usage")
    day = models.DateField()
    characters = models.PositiveBigIntegerField(default=0)
    jobs = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["day"]
        constraints = [models.UniqueConstraint(fields=["user", "day"], name="daily_usage_per_day")]

    def __str__(self) -> str:
        return f"{self.user} {self.day}: {self.characters}"


class JobSlots(models.Model):
    """How many of the plan's concurrent_jobs a user holds right now (queued or running work)."""

    user = models.OneToOneField(
        User, on_delete=models.CASCADE, primary_key=True, related_name="job_slots"
    )
    in_use = models.PositiveIntegerField(default=0)

    def __str__(self) -> str:
        return f"{self.user}: {self.in_use} slots in use"
