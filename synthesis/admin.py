from django.contrib import admin

from synthesis.models import EngineStatusRecord, SynthesisBatch, SynthesisJob, WebhookDelivery


@admin.register(SynthesisJob)
class SynthesisJobAdmin(admin.ModelAdmin):
    list_display = (
        "code",
        "owner",
        "voice",
        "status",
        "language",
        "output_format",
        "characters",
        "progress",
        "audio_seconds",
        "compute_seconds",
        "created_at",
    )
    list_filter = ("status", "language", "output_format")
    search_fields = ("code", "owner__email", "voice__name")
    list_select_related = ("owner", "voice")
    readonly_fields = (
        "code",
        "owner",
        "voice",
        "characters",
        "params",
        "status",
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
        "created_at",
        "started_at",
        "finished_at",
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

    def has_add_permission(self, request):
        return False


@admin.register(SynthesisBatch)
class SynthesisBatchAdmin(admin.ModelAdmin):
    list_display = ("code", "owner", "status", "created_at")
    list_select_related = ("owner",)
    search_fields = ("code", "owner__email")


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(admin.ModelAdmin):
    list_display = ("id", "owner", "job", "status", "attempts", "created_at")
    list_select_related = ("owner", "job")
    search_fields = ("owner__email", "url")

    def has_add_permission(self, request):
        return False
