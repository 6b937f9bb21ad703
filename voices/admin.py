"""Voices in the Django admin: block and unblock voices, work the flag queue, review consents.

Every moderation action goes through voices.services (audited); the moderation fields are
read-only in the change forms for the same reason.
"""

from django import forms
from django.conf import settings
from django.contrib import admin

from accounts.admin_forms import NoteForm, ReasonForm, action_with_form, apply_each
from audit.models import AuditEvent
from voices import services
from voices.models import Consent, Flag, ProtectedVoice, Sample, Voice, VoiceConditioning
from voices.services import protected as protected_services


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


class VoiceConditioningInline(admin.TabularInline):
    """The voice's further engines (read-only: users add them, workers build them)."""

    model = VoiceConditioning
    extra = 0
    can_delete = False
    fields = ("engine", "status", "version", "failure_reason", "dispatched_at", "updated_at")
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
    inlines = [ConsentInline, VoiceConditioningInline]
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
        "protected_voice_check",
    )

    @admin.display(description="Protected-voice check")
    def protected_voice_check(self, sample):
        """The closest protected voice at intake, with score and threshold (from the audit log:
        never part of the owner's quality report)."""
        event = (
            AuditEvent.objects.filter(
                target_type="voices.sample",
                target_id=str(sample.code),
                action__in=("voices.sample.processed", "voices.sample.protected_voice"),
            )
            .order_by("-seq")
            .first()
        )
        data = (event.data or {}) if event is not None else {}
        hit = data.get("protected_voice") if event and "score" not in data else data
        if not hit or "score" not in hit:
            return "Not compared (no active protected voice at intake)."
        verdict = "refused" if event.action == "voices.sample.protected_voice" else "passed"
        return (
            f"{verdict}: closest {hit.get('protected_name')!r}, similarity {hit['score']:.3f} "
            f"(threshold {hit['threshold']:.2f})"
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


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class MultipleFileField(forms.FileField):
    def __init__(self, *args, **kwargs):
        kwargs.setdefault("widget", MultipleFileInput())
        super().__init__(*args, **kwargs)

    def clean(self, data, initial=None):
        single = super().clean
        if isinstance(data, (list, tuple)) and data:
            return [single(item, initial) for item in data]
        cleaned = single(data or None, initial)  # nothing uploaded: "This field is required."
        return [cleaned] if cleaned else []


class ProtectedVoiceAddForm(forms.ModelForm):
    sample_files = MultipleFileField(
        label="Samples",
        help_text=(
            f"One to {protected_services.MAX_SAMPLES} recordings of the voice, at least a few "
            "seconds of speech each; an audio worker embeds them (status turns Ready)."
        ),
    )

    class Meta:
        model = ProtectedVoice
        fields = ("name", "note")

    def clean_sample_files(self):
        files = self.cleaned_data["sample_files"]
        if len(files) > protected_services.MAX_SAMPLES:
            raise forms.ValidationError(f"Upload at most {protected_services.MAX_SAMPLES} files.")
        return files


@admin.register(ProtectedVoice)
class ProtectedVoiceAdmin(admin.ModelAdmin):
    """People who must not be cloned. Adding one queues the embedding of its samples; samples and
    consent recordings at or above PROTECTED_VOICE_THRESHOLD are refused and flagged."""

    list_display = ("name", "status", "active", "sample_count", "created_by", "created_at")
    list_filter = ("active", "status")
    search_fields = ("name", "code", "note")
    list_select_related = ("created_by",)
    readonly_fields = (
        "code",
        "name",
        "note",
        "status",
        "error",
        "active",
        "threshold",
        "samples",
        "created_by",
        "created_at",
        "embedded_at",
        "dispatched_at",
    )
    actions = ["activate", "deactivate", "embed_again"]

    @admin.display(description="Samples")
    def sample_count(self, protected):
        return len(protected.samples or [])

    @admin.display(description="Refusal threshold")
    def threshold(self, protected):
        return f"{settings.PROTECTED_VOICE_THRESHOLD:.2f} (setting PROTECTED_VOICE_THRESHOLD)"

    def get_form(self, request, obj=None, change=False, **kwargs):
        if obj is None:
            kwargs["form"] = ProtectedVoiceAddForm
        return super().get_form(request, obj, change=change, **kwargs)

    def get_fields(self, request, obj=None):
        return ("name", "note", "sample_files") if obj is None else self.readonly_fields

    def get_readonly_fields(self, request, obj=None):
        return () if obj is None else self.readonly_fields

    def save_model(self, request, obj, form, change):
        if change:
            return
        created = protected_services.protected_voice_create(
            name=form.cleaned_data["name"],
            note=form.cleaned_data.get("note", ""),
            uploads=form.cleaned_data["sample_files"],
            admin_user=request.user,
            request=request,
        )
        obj.pk, obj.code, obj.samples = created.pk, created.code, created.samples

    def has_delete_permission(self, request, obj=None):
        return False  # deactivate instead: the record of who was protected stays

    @admin.action(description="Activate: refuse samples that sound like these voices")
    def activate(self, request, queryset):
        apply_each(
            self,
            request,
            queryset,
            lambda protected: protected_services.protected_voice_set_active(
                protected=protected, active=True, admin_user=request.user, request=request
            ),
            "{n} protected voice(s) active.",
        )

    @admin.action(description="Deactivate: stop comparing samples with these voices")
    def deactivate(self, request, queryset):
        apply_each(
            self,
            request,
            queryset,
            lambda protected: protected_services.protected_voice_set_active(
                protected=protected, active=False, admin_user=request.user, request=request
            ),
            "{n} protected voice(s) inactive.",
        )

    @admin.action(description="Embed again (a failed one, or one still pending)")
    def embed_again(self, request, queryset):
        apply_each(
            self,
            request,
            queryset,
            lambda protected: protected_services.protected_voice_embed_retry(
                protected=protected, admin_user=request.user, request=request
            ),
            "{n} protected voice(s) queued for embedding.",
        )
