"""The generation registry in the Django admin: the list of outputs (read-only) and
"Was this generated here?", which checks an uploaded file and names the matching outputs.

The check decodes an upload nobody vouches for, so it runs where every such file is decoded: on
an audio worker, through the detector (provenance.detection.detect_submit), which also reads the
watermark and content credentials. Every check is audited (provenance.registry.admin_lookup).
"""

from __future__ import annotations

from django import forms
from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.template.response import TemplateResponse
from django.urls import path, reverse

from audit.models import AuditEvent
from audit.services import audit_record
from config.service_errors import ServiceError
from provenance.models import GenerationRecord
from voices.uploads import upload_limit_bytes


class LookupForm(forms.Form):
    file = forms.FileField(
        label="Audio file",
        help_text="Any audio a voice sample may be (WAV, MP3, FLAC, M4A/AAC, OGG, WebM).",
    )


def deleted_account_email(account_code) -> str:
    """The email of a deleted account, as its deletion's audit event kept it ("" if unknown)."""
    if account_code is None:
        return ""
    event = (
        AuditEvent.objects.filter(action="accounts.user.deleted", target_id=str(account_code))
        .order_by("-seq")
        .first()
    )
    return str((event.data or {}).get("email", "")) if event is not None else ""


def account_label(record: GenerationRecord, *, resolve_deleted: bool = False) -> str:
    if record.user is not None:
        return record.user.email
    if record.account_code is None:
        return "-"
    email = deleted_account_email(record.account_code) if resolve_deleted else ""
    suffix = f", was {email}" if email else ""
    return f"deleted account #{record.account_id} ({record.account_code}{suffix})"


@admin.register(GenerationRecord)
class GenerationRecordAdmin(admin.ModelAdmin):
    """Read-only: records are written by the synthesis worker, and kept after the output,
    the voice and the account are gone."""

    change_list_template = "admin/provenance/generationrecord/change_list.html"
    list_display = (
        "created_at",
        "job_code",
        "account",
        "voice_label",
        "model",
        "output_format",
        "duration_seconds",
    )
    list_filter = ("model", "output_format", "created_at")
    search_fields = ("=job_code", "user__email", "=account_code", "=voice_code")
    list_select_related = ("user", "voice")
    fields = (
        "job_code",
        "created_at",
        "account_detail",
        "account_id",
        "account_code",
        "voice",
        "voice_code",
        "model",
        "output_format",
        "duration_seconds",
        "fingerprint_summary",
        "fingerprint_version",
    )
    readonly_fields = fields
    ordering = ("-created_at", "-id")

    @admin.display(description="Account", ordering="user__email")
    def account(self, record):
        return account_label(record)

    @admin.display(description="Account")
    def account_detail(self, record):
        return account_label(record, resolve_deleted=True)

    @admin.display(description="Voice")
    def voice_label(self, record):
        if record.voice is not None:
            return record.voice.name
        return f"deleted voice ({record.voice_code})" if record.voice_code else "-"

    @admin.display(description="Fingerprint")
    def fingerprint_summary(self, record):
        return f"{len(bytes(record.fingerprint)) // 4} chromaprint items"

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def get_urls(self):
        lookup = path(
            "lookup/",
            self.admin_site.admin_view(self.lookup_view),
            name="provenance_generationrecord_lookup",
        )
        return [lookup, *super().get_urls()]

    def lookup_view(self, request):
        """Was this generated here? An upload in; its matching outputs (and the watermark and
        credentials verdict) out."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        form = LookupForm(request.POST or None, request.FILES or None)
        context = {
            **self.admin_site.each_context(request),
            "title": "Was this generated here?",
            "opts": self.model._meta,
            "form": form,
            "list_url": reverse("admin:provenance_generationrecord_changelist"),
        }
        if request.method == "POST" and form.is_valid():
            context.update(_lookup(request, form.cleaned_data["file"]))
        return TemplateResponse(request, "admin/provenance/generationrecord/lookup.html", context)


def _lookup(request, upload) -> dict:
    from provenance.detection import detect_submit

    try:
        result = detect_submit(upload=upload, max_bytes=upload_limit_bytes(request.user))
    except ServiceError as exc:
        return {"error": exc.message}
    scores = {m["record_id"]: m["score"] for m in result.get("matches") or []}
    found = GenerationRecord.objects.select_related("user", "voice").in_bulk(list(scores))
    matches = [
        {
            "record": found[record_id],
            "score": score,
            "account": account_label(found[record_id], resolve_deleted=True),
            "url": reverse("admin:provenance_generationrecord_change", args=[record_id]),
        }
        for record_id, score in scores.items()
        if record_id in found
    ]
    audit_record(
        action="provenance.registry.admin_lookup",
        request=request,
        actor_type=AuditEvent.ActorType.ADMIN,
        target_type="provenance.generationrecord",
        target_id=str(matches[0]["record"].job_code) if matches else "",
        data={
            "file": upload.name[:200],
            "matched_jobs": [str(m["record"].job_code) for m in matches],
            "scores": [m["score"] for m in matches],
            "watermarked": bool(result.get("watermarked")),
        },
    )
    return {
        "checked": True,
        "matches": matches,
        "watermarked": bool(result.get("watermarked")),
        "confidence": result.get("confidence"),
        "c2pa": result.get("c2pa"),
    }
