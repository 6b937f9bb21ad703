"""Synthesis in the Django admin: jobs (status, errors, timings; retry and cancel), batches,
webhook deliveries, the engines' status and the model aliases of the compatible APIs. Actions go
through the job services (audited); alias edits are audited through the admin's LogEntry."""

from django import forms
from django.contrib import admin

from accounts.admin_forms import apply_each
from synthesis.engines import engines
from synthesis.jobs import moderation
from synthesis.models import (
    EngineStatusRecord,
    ModelAlias,
    SynthesisBatch,
    SynthesisJob,
    WebhookDelivery,
)


@admin.register(SynthesisJob)
class SynthesisJobAdmin(admin.ModelAdmin):
    list_display = (
        "code",
        "owner",
        "voice",
        "engine",
        "status",
        "short_error",
        "characters",
        "progress",
        "attempts",
        "audio_seconds",
        "compute_seconds",
        "created_at",
        "started_at",
        "finished_at",
    )
    list_filter = ("status", "quota_state", "engine", "language", "output_format", "stream")
    search_fields = ("code", "owner__email", "voice__name", "error", "worker")
    list_select_related = ("owner", "voice", "batch")
    readonly_fields = (
        "code",
        "owner",
        "voice",
        "batch",
        "api_key",
        "characters",
        "language",
        "output_format",
        "params",
        "status",
        "cancel_requested",
        "quota_state",
        "progress",
        "chunks_done",
        "chunks_total",
        "audio",
        "audio_seconds",
        "compute_seconds",
        "error",
        "attempts",
        "worker",
        "heartbeat_at",
        "dispatched_at",
        "created_at",
        "started_at",
        "finished_at",
    )
    exclude = ("text",)  # a user's text is theirs; the admin needs the facts, not the words
    actions = ["retry", "cancel"]

    @admin.display(description="Engine", ordering="engine")
    def engine(self, job):
        return job.engine_name

    @admin.display(description="Error")
    def short_error(self, job):
        return job.error[:80]

    def has_add_permission(self, request):
        return False

    @admin.action(description="Retry: queue failed/cancelled jobs again (charged to the quota)")
    def retry(self, request, queryset):
        apply_each(
            self,
            request,
            queryset,
            lambda job: moderation.job_retry(job=job, admin_user=request.user, request=request),
            "{n} job(s) queued again.",
        )

    @admin.action(description="Cancel (refunded)")
    def cancel(self, request, queryset):
        apply_each(
            self,
            request,
            queryset,
            lambda job: moderation.job_admin_cancel(
                job=job, admin_user=request.user, request=request
            ),
            "{n} job(s) cancelled (running ones stop after their current chunk).",
        )


@admin.register(EngineStatusRecord)
class EngineStatusAdmin(admin.ModelAdmin):
    list_display = (
        "engine",
        "hostname",
        "ready",
        "device",
        "model_version",
        "load_seconds",
        "updated_at",
        "reason",
    )
    list_filter = ("ready", "engine", "device")
    search_fields = ("engine", "hostname", "model_version")
    list_select_related = False  # no relations shown

    def has_add_permission(self, request):
        return False


@admin.register(SynthesisBatch)
class SynthesisBatchAdmin(admin.ModelAdmin):
    list_display = (
        "code",
        "owner",
        "status",
        "total_items",
        "total_characters",
        "created_at",
        "finished_at",
    )
    list_filter = ("status", "created_at")
    list_select_related = ("owner",)
    search_fields = ("code", "owner__email")

    def has_add_permission(self, request):
        return False


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(admin.ModelAdmin):
    list_display = (
        "code",
        "owner",
        "event",
        "job",
        "batch",
        "status",
        "attempts",
        "last_status_code",
        "created_at",
    )
    list_filter = ("status", "event", "created_at")
    list_select_related = ("owner", "job", "batch")
    search_fields = ("code", "owner__email", "url", "job__code")
    readonly_fields = ("payload",)

    def has_add_permission(self, request):
        return False


class ModelAliasForm(forms.ModelForm):
    class Meta:
        model = ModelAlias
        fields = ("name", "surface", "engine", "description", "enabled")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # Only installed engines (an alias naming a missing one would refuse every voice).
        choices = [("", "The default model")]
        choices += [(name, f"{facts.label} ({name})") for name, facts in engines().items()]
        current = self.instance.engine
        if current and current not in dict(choices):
            choices.append((current, f"{current} (not installed)"))
        self.fields["engine"].widget = forms.Select(choices=choices)

    def clean_engine(self):
        engine = self.cleaned_data["engine"]
        if engine and engine not in engines() and engine != self.instance.engine:
            raise forms.ValidationError(f"{engine!r} is not an installed engine.")
        return engine


@admin.register(ModelAlias)
class ModelAliasAdmin(admin.ModelAdmin):
    """The model names OpenAI and ElevenLabs clients may send (synthesis.compat.aliases).
    Disable an alias rather than delete them all: an empty table gets the defaults again."""

    form = ModelAliasForm
    list_display = ("name", "surface", "engine_label", "enabled", "description", "updated_at")
    list_filter = ("surface", "enabled", "engine")
    list_editable = ("enabled",)
    search_fields = ("name", "description")

    @admin.display(description="Engine", ordering="engine")
    def engine_label(self, alias):
        return alias.engine or "the voice's own"
