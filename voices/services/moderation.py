"""Moderation of voices: admins block and unblock voices, and work the flag queue.

A blocked voice is refused by `voices.selectors.voice_usable_check` wherever it would be used.
Flags come from consent mismatches (raised here by the consent check), protected-voice hits
(a kind for later) and users' reports. An admin approves a flag (the voice may be used; for a
consent mismatch that overrides the mismatch and builds the voice) or rejects it (the voice is
blocked with the flag's reason). Every change records one audit event in its transaction.
"""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from accounts.moderation import admin_record as _admin_record
from accounts.moderation import reason_clean as _reason_clean
from audit.models import AuditEvent
from audit.services import audit_record
from config.service_errors import ServiceError
from voices.models import Consent, Flag, Voice
from voices.services.dispatch import voice_build_dispatch

REPORTS_OPEN_MAX = 20  # open reports one user may have at a time


def _block(voice: Voice, *, reason: str, admin_user) -> None:
    voice.blocked_at = timezone.now()
    voice.blocked_reason = reason
    voice.blocked_by = admin_user
    voice.save(update_fields=["blocked_at", "blocked_reason", "blocked_by", "updated_at"])


@transaction.atomic
def voice_block(*, voice: Voice, reason: str, admin_user, request=None) -> Voice:
    """Block `voice` on every surface; its owner sees the reason. ServiceError
    `already_blocked`."""
    reason = _reason_clean(reason)
    voice = Voice.objects.select_for_update().get(pk=voice.pk)
    if voice.blocked_at is not None:
        raise ServiceError("already_blocked", f"Voice {voice.name!r} is already blocked.")
    _block(voice, reason=reason, admin_user=admin_user)
    _admin_record(
        action="voices.voice.blocked",
        admin_user=admin_user,
        request=request,
        target=voice,
        data={"reason": reason, "owner": voice.owner_id and str(voice.owner)},
    )
    return voice


@transaction.atomic
def voice_unblock(*, voice: Voice, reason: str, admin_user, request=None) -> Voice:
    """Lift a block. ServiceError `not_blocked`."""
    reason = _reason_clean(reason)
    voice = Voice.objects.select_for_update().get(pk=voice.pk)
    if voice.blocked_at is None:
        raise ServiceError("not_blocked", f"Voice {voice.name!r} is not blocked.")
    previous = voice.blocked_reason
    voice.blocked_at = None
    voice.blocked_reason = ""
    voice.blocked_by = None
    voice.save(update_fields=["blocked_at", "blocked_reason", "blocked_by", "updated_at"])
    _admin_record(
        action="voices.voice.unblocked",
        admin_user=admin_user,
        request=request,
        target=voice,
        data={"reason": reason, "blocked_reason": previous},
    )
    return voice


# --- the flag queue ----------------------------------------------------------------------------
def flag_raise(*, kind: str, voice: Voice | None, reason: str = "", details=None) -> Flag:
    """A flag raised by the system (consent mismatch, protected-voice hit). Call it inside the
    transaction of the change that found the problem (which records its own audit event)."""
    return Flag.objects.create(kind=kind, voice=voice, reason=reason, details=details or {})


@transaction.atomic
def voice_report(*, user, voice: Voice, reason: str, request=None, api_key=None) -> Flag:
    """A user reports a voice they can see. A second open report of the same voice by the same
    user returns the first. ServiceError `reason_required`, `too_many_reports` (429)."""
    reason = (reason or "").strip()
    if not reason:
        raise ServiceError("reason_required", "Say what is wrong with this voice.")
    existing = Flag.objects.filter(
        kind=Flag.Kind.REPORT, status=Flag.Status.OPEN, voice=voice, reporter=user
    ).first()
    if existing is not None:
        return existing
    if (
        Flag.objects.filter(kind=Flag.Kind.REPORT, status=Flag.Status.OPEN, reporter=user).count()
        >= REPORTS_OPEN_MAX
    ):
        raise ServiceError(
            "too_many_reports",
            f"You have {REPORTS_OPEN_MAX} open reports; wait until an administrator reviews them.",
        )
    flag = Flag.objects.create(
        kind=Flag.Kind.REPORT, voice=voice, reporter=user, reason=reason[:2000]
    )
    audit_record(
        action="voices.voice.reported",
        request=request,
        user=user,
        api_key=api_key,
        target=voice,
        data={"flag": str(flag.code), "reason": flag.reason},
    )
    return flag


def _open_flag(flag: Flag) -> Flag:
    flag = Flag.objects.select_for_update().get(pk=flag.pk)
    if flag.status != Flag.Status.OPEN:
        raise ServiceError("flag_resolved", f"This flag was already {flag.status}.")
    return flag


def _resolve(flag: Flag, *, status: str, admin_user, note: str) -> None:
    flag.status = status
    flag.resolved_at = timezone.now()
    flag.resolved_by = admin_user
    flag.resolution_note = note
    flag.save(update_fields=["status", "resolved_at", "resolved_by", "resolution_note"])


@transaction.atomic
def flag_approve(*, flag: Flag, admin_user, note: str = "", request=None) -> Flag:
    """The voice may be used: the flag is closed. For a consent mismatch this overrides the
    mismatch and queues the voice's build (voices.consent.overridden is its one audit event).
    ServiceError `flag_resolved`."""
    flag = _open_flag(flag)
    voice = flag.voice
    mismatch = (
        flag.kind == Flag.Kind.CONSENT_MISMATCH
        and voice is not None
        and Consent.objects.filter(voice=voice, status=Consent.Status.MISMATCH).exists()
    )
    if mismatch:
        consent_override_approve(voice=voice, admin_user=admin_user, request=request)
        flag.refresh_from_db()
        return flag
    _resolve(flag, status=Flag.Status.APPROVED, admin_user=admin_user, note=note)
    _admin_record(
        action="voices.flag.approved",
        admin_user=admin_user,
        request=request,
        target=flag,
        data={"kind": flag.kind, "voice": voice and str(voice.code), "note": note},
    )
    return flag


@transaction.atomic
def flag_reject(*, flag: Flag, admin_user, note: str = "", request=None) -> Flag:
    """The voice may not be used: it is blocked (unless it already is) with the flag's reason,
    and the flag is closed; one audit event, voices.flag.rejected. ServiceError
    `flag_resolved`."""
    flag = _open_flag(flag)
    voice = flag.voice
    blocked = False
    if voice is not None:
        voice = Voice.objects.select_for_update().get(pk=voice.pk)
        if voice.blocked_at is None:
            reason = note or _flag_block_reason(flag)
            _block(voice, reason=reason, admin_user=admin_user)
            blocked = True
    _resolve(flag, status=Flag.Status.REJECTED, admin_user=admin_user, note=note)
    _admin_record(
        action="voices.flag.rejected",
        admin_user=admin_user,
        request=request,
        target=flag,
        data={
            "kind": flag.kind,
            "voice": voice and str(voice.code),
            "blocked": blocked,
            "note": note,
        },
    )
    return flag


def _flag_block_reason(flag: Flag) -> str:
    return {
        Flag.Kind.CONSENT_MISMATCH: "The consent recording's speaker does not match the samples.",
        Flag.Kind.PROTECTED_VOICE: "It resembles a protected voice.",
        Flag.Kind.REPORT: "It was reported and an administrator upheld the report.",
    }.get(flag.kind, "An administrator rejected it.")


@transaction.atomic
def consent_override_approve(*, voice: Voice, admin_user, request=None) -> Voice:
    """An admin accepts a flagged voice despite the speaker mismatch; the build is queued and
    the voice's open consent-mismatch flags are closed (approved)."""
    voice = Voice.objects.select_for_update().get(pk=voice.pk)
    consent = Consent.objects.select_for_update().filter(voice=voice).first()
    if not voice.flagged or consent is None or consent.status != Consent.Status.MISMATCH:
        raise ServiceError(
            code="not_flagged",
            message=f"Voice {voice.name!r} is not flagged for a consent mismatch.",
        )
    now = timezone.now()
    consent.status = Consent.Status.OVERRIDDEN
    consent.overridden_by = admin_user
    consent.overridden_at = now
    consent.save(update_fields=["status", "overridden_by", "overridden_at"])
    voice.status = Voice.Status.BUILDING
    voice.failure_reason = ""
    voice.flagged = False
    voice.save(update_fields=["status", "failure_reason", "flagged", "updated_at"])
    flags = flags_resolve_for_override(voice=voice, admin_user=admin_user)
    audit_record(
        action="voices.consent.overridden",
        request=request,
        user=admin_user,
        actor_type=AuditEvent.ActorType.ADMIN,
        target=consent,
        data={"voice": str(voice.code), "score": consent.speaker_score, "flags": flags},
    )
    voice_build_dispatch(voice)
    return voice


def flags_resolve_for_override(*, voice: Voice, admin_user) -> list[str]:
    """Close the open consent-mismatch flags of `voice` (its mismatch was overridden)."""
    flags = list(
        Flag.objects.select_for_update().filter(
            voice=voice, kind=Flag.Kind.CONSENT_MISMATCH, status=Flag.Status.OPEN
        )
    )
    for flag in flags:
        _resolve(flag, status=Flag.Status.APPROVED, admin_user=admin_user, note="overridden")
    return [str(flag.code) for flag in flags]
