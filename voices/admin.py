"""Voices in the Django admin: block and unblock voices, work the flag queue, review consents.

Every moderation action goes through voices.services (audited); the moderation fields are
read-only in the change forms for the same reason.
"""

from django.contrib import admin

from accounts.admin_forms import NoteForm, ReasonForm, action_with_form, apply_each
from voices import services
from voices.models import Consent, Flag, Sample, Voice


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
    list_display = (
        "name",
        "owner",
        "status",
        "flagged",
        "blocked",
        "engine",
        "language",
        "created_at",
    )
    list_filter = (
        "flagged",
        ("blocked_at", admin.EmptyFieldListFilter),
        "status",
        "engine",
        "is_stock",
    )
    search_fields = ("name", "owner__email", "code")
    list_select_related = ("owner",)
    readonly_fields = (
        "code",
        "conditioning",
        "conditioning_version",
        "flagged",
        "flagged_at",
        "blocked_at",
        "blocked_reason",
        "blocked_by",
        "mix_sources",
        "failure_reason",
    )
    inlines = [ConsentInline]
    actions = ["block", "unblock", "approve_override"]

    @admin.display(boolean=True, description="Blocked", ordering="blocked_at")
    def blocked(self, voice):
        return voice.blocked_at is not None

    @admin.action(description="Block: refuse the voice everywhere (with a reason)")
    def block(self, request, queryset):
        return action_with_form(
            self,
            request,
            queryset,
            form_class=ReasonForm,
            title="Block voices",
            apply=lambda voice, data: services.voice_block(
                voice=voice, reason=data["reason"], admin_user=request.user, request=request
            ),
            success="{n} voice(s) blocked.",
        )

    @admin.action(description="Unblock (with a reason)")
    def unblock(self, request, queryset):
        return action_with_form(
            self,
            request,
            queryset,
            form_class=ReasonForm,
            title="Unblock voices",
            apply=lambda voice, data: services.voice_unblock(
                voice=voice, reason=data["reason"], admin_user=request.user, request=request
            ),
            success="{n} voice(s) unblocked.",
        )

    @admin.action(description="Approve override: build despite the consent speaker mismatch")
    def approve_override(self, request, queryset):
        apply_each(
            self,
            request,
            queryset,
            lambda voice: services.consent_override_approve(
                voice=voice, admin_user=request.user, request=request
            ),
            "{n} voice(s) approved; their builds are queued.",
        )


@admin.register(Flag)
class FlagAdmin(admin.ModelAdmin):
    """The moderation queue, newest first (filter by status "Open" for the work to do)."""

    list_display = (
        "created_at",
        "kind",
        "status",
        "voice",
        "voice_owner",
        "reporter",
        "short_reason",
        "resolved_by",
        "resolved_at",
    )
    list_filter = ("status", "kind", "created_at")
    search_fields = ("code", "voice__name", "voice__owner__email", "reporter__email", "reason")
    list_select_related = ("voice", "voice__owner", "reporter", "resolved_by")
    readonly_fields = [field.name for field in Flag._meta.fields]
    actions = ["approve", "reject"]

    ordering = ("-created_at", "-id")

    @admin.display(description="Owner", ordering="voice__owner__email")
    def voice_owner(self, flag):
        return flag.voice.owner if flag.voice and flag.voice.owner_id else "-"

    @admin.display(description="Reason")
    def short_reason(self, flag):
        return flag.reason[:80]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.action(description="Approve: the voice may be used (overrides a consent mismatch)")
    def approve(self, request, queryset):
        return action_with_form(
            self,
            request,
            queryset,
            form_class=NoteForm,
            title="Approve flags",
            apply=lambda flag, data: services.flag_approve(
                flag=flag, admin_user=request.user, note=data["note"], request=request
            ),
            success="{n} flag(s) approved.",
        )

    @admin.action(description="Reject: block the voice (the note is the reason its owner sees)")
    def reject(self, request, queryset):
        return action_with_form(
            self,
            request,
            queryset,
            form_class=NoteForm,
            title="Reject flags",
            apply=lambda flag, data: services.flag_reject(
                flag=flag, admin_user=request.user, note=data["note"], request=request
            ),
            success="{n} flag(s) rejected; their voices are blocked.",
        )


@admin.register(Sample)
class SampleAdmin(admin.ModelAdmin):
    list_display = (
        "code",
        "owner",
        "voice",
        "purpose",
        "status",
        "error_code",
        "original_name",
        "created_at",
    )
    list_filter = ("status", "purpose", "error_code")
    search_fields = ("code", "owner__email", "original_name", "voice__name")
    list_select_related = ("owner", "voice")
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
