from django.contrib import admin, messages

from config.service_errors import ServiceError
from voices import services
from voices.models import Consent, Sample, Voice


class ConsentInline(admin.StackedInline):
    model = Consent
    fk_name = "voice"
    extra = 0
    can_delete = False
    fields = (
        "code",
        "status",
        "speaker_score",
        "speaker_threshold",
        "verified_at",
        "recording",
        "attestation_text",
        "attested_at",
        "attested_ip",
        "statement",
        "overridden_by",
        "overridden_at",
    )
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Voice)
class VoiceAdmin(admin.ModelAdmin):
    list_display = ("name", "owner", "status", "flagged", "engine", "language", "created_at")
    list_filter = ("flagged", "status", "engine", "is_stock")
    search_fields = ("name", "owner__email", "code")
    list_select_related = ("owner",)
    readonly_fields = (
        "code",
        "conditioning",
        "conditioning_version",
        "flagged",
        "flagged_at",
        "mix_sources",
        "failure_reason",
    )
    inlines = [ConsentInline]
    actions = ["approve_override"]

    @admin.action(description="Approve override: build despite the consent speaker mismatch")
    def approve_override(self, request, queryset):
        approved = 0
        for voice in queryset:
            try:
                services.consent_override_approve(
                    voice=voice, admin_user=request.user, request=request
                )
            except ServiceError as exc:
                self.message_user(request, exc.message, messages.WARNING)
            else:
                approved += 1
        if approved:
            self.message_user(request, f"{approved} voice(s) approved; their builds are queued.")


@admin.register(Sample)
class SampleAdmin(admin.ModelAdmin):
    list_display = (
        "code",
        "owner",
        "purpose",
        "status",
        "error_code",
        "original_name",
        "created_at",
    )
    list_filter = ("status", "purpose", "error_code")
    search_fields = ("code", "owner__email", "original_name")
    list_select_related = ("owner",)
    readonly_fields = (
        "code",
        "owner",
        "voice",
        "purpose",
        "status",
        "original_name",
        "raw",
        "clean",
        "size",
        "duration_seconds",
        "report",
        "error_code",
        "error_message",
        "created_at",
        "processed_at",
    )


@admin.register(Consent)
class ConsentAdmin(admin.ModelAdmin):
    list_display = ("code", "owner", "voice", "status", "speaker_score", "attested_at")
    list_filter = ("status",)
    search_fields = ("code", "owner__email", "voice__name")
    list_select_related = ("owner", "voice")
    readonly_fields = [field.name for field in Consent._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
