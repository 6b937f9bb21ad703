"""Display helpers for the voices pages: language and engine names, badges, report wording."""

from django import template

from synthesis.engines import UnknownEngine, engine_facts
from voices import selectors
from voices.models import Sample
from voices.services.conditioning import ENGINE_UNAVAILABLE_MESSAGE

register = template.Library()

# Below this many dB of speech above the background, intake advises a quieter room
# (voices.audio.quality.NOISY_SNR_DB); above QUIET_SNR_DB the room is quiet. Readings above
# SNR_SHOWN_MAX say nothing more (a digitally silent background reads as ~100 dB).
NOISY_SNR_DB = 20.0
QUIET_SNR_DB = 40.0
SNR_SHOWN_MAX = 60.0
# The consent statement takes about 8 s to read; much less means part of it was left out.
CONSENT_SHORT_S = 5.0

BADGES = {
    "ready": "ok",
    "failed": "bad",
    "rejected": "bad",
    "building": "warn",
    "needs_rebuild": "warn",
    "pending_consent": "warn",
    "processing": "warn",
    "uploaded": "warn",
}


@register.filter
def percent(value) -> str:
    """0.0123 -> "1.2%"."""
    try:
        return f"{float(value) * 100:.1f}%"
    except (TypeError, ValueError):
        return "-"


@register.filter
def language_name(code) -> str:
    """ "de" -> "German"; an unknown code is shown as it is, none as "not set"."""
    if not code:
        return "not set"
    return selectors.LANGUAGE_NAMES.get(str(code).lower(), str(code))


def _facts(name: str):
    try:
        return engine_facts(name) if name else None
    except UnknownEngine:
        return None


@register.filter
def engine_label(name) -> str:
    """ "xtts" -> "XTTS v2" (the engine's own label); unknown names as they are."""
    facts = _facts(name)
    return facts.label if facts else (name or "\N{EN DASH}")


@register.filter
def voice_languages(voice) -> list[str]:
    """The full names of the languages a voice speaks, its own language hint first."""
    facts = _facts(voice.engine)
    own = [voice.language] if voice.language else []
    codes = own if facts is None or facts.voice_language_only else [*own, *facts.languages]
    return [language_name(code) for code in dict.fromkeys(codes)]


@register.filter
def badge(status) -> str:
    """The badge class of a voice or sample status."""
    return BADGES.get(str(status), "")


@register.filter
def preview_sample(voice):
    """The voice's first ready sample (prefetched by voices.selectors.voice_list), or None."""
    return next((s for s in voice.samples.all() if s.status == Sample.Status.READY), None)


@register.filter
def noise_wording(snr_db) -> str:
    """The one wording of background noise on every page: how far speech stands above it."""
    if snr_db is None or snr_db == "":
        return "\N{EN DASH}"
    snr = float(snr_db)
    level = "low" if snr >= QUIET_SNR_DB else "some" if snr >= NOISY_SNR_DB else "high"
    shown = f"more than {SNR_SHOWN_MAX:.0f}" if snr > SNR_SHOWN_MAX else f"{snr:.0f}"
    return f"{level.capitalize()}: speech is {shown} dB above the background"


@register.filter
def consent_feedback(sample) -> list[str]:
    """What to tell someone about their consent recording (not sample advice: it is not used
    to build the voice, only to check that the speaker is the same person as the samples)."""
    report = sample.report or {}
    consent = getattr(sample, "consent", None)
    lines = []
    speech = report.get("speech_seconds") or 0.0
    if speech < CONSENT_SHORT_S:
        lines.append(
            f"We heard only {speech:.1f} s of speech: make sure you read the whole statement, "
            "including your consent phrase."
        )
    snr = report.get("snr_db")
    if snr is not None and snr < NOISY_SNR_DB:
        lines.append(
            "There is background noise, which can make the speaker check fail: record in the "
            "same quiet place as your samples."
        )
    if consent is None or consent.status in ("issued", "recorded"):
        lines.append(
            "When you create the voice we check that this is the same speaker as your samples."
        )
    elif consent.status in ("verified", "overridden"):
        lines.append("Same speaker as your samples: consent confirmed.")
    elif consent.status == "mismatch":
        lines.append(
            "The speaker does not sound like your samples; an administrator will review it."
        )
    return lines


# How builds failed for want of an engine before the reason was worded for owners: it carried
# the operator's fix, which only staff may read.
_OPERATOR_FAILURE_PREFIX = "The speech engine is unavailable:"


@register.filter
def failure_for(voice, user) -> str:
    """The voice's failure reason as `user` may read it."""
    reason = voice.failure_reason or ""
    if reason.startswith(_OPERATOR_FAILURE_PREFIX) and not getattr(user, "is_staff", False):
        return ENGINE_UNAVAILABLE_MESSAGE
    return reason


@register.filter
def consent_rejection(sample) -> str:
    """Why a consent recording was refused, in consent terms."""
    if sample.error_code == "too_little_speech":
        return (
            "We heard too little speech. Read the whole statement aloud, including your "
            "consent phrase, then upload it again."
        )
    return sample.error_message


@register.simple_tag(takes_context=True)
def user_voices(context):
    """The signed-in user's own voices (for the dashboard, whose view lives in accounts)."""
    user = context["request"].user
    return list(selectors.voice_list(user=user, include_stock=False))
