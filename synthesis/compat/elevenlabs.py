"""ElevenLabs-compatible text to speech, history and subscription (voices: elevenlabs_voices).

Point an ElevenLabs client at the site (base_url, no /v1) with a Timbre API key; it is sent as
`xi-api-key`. Scopes: tts (text to speech), history:read, usage:read.
"""

from __future__ import annotations

import re
import uuid

from django.db.models import Q
from django.http import Http404
from rest_framework import status
from rest_framework.parsers import JSONParser
from rest_framework.response import Response

from accounts.api.auth import request_api_key
from accounts.selectors import plan_for_user
from accounts.usage import usage_summary
from config.api import ApiError
from synthesis.api.catalog import model_list
from synthesis.api.responses import job_audio_response
from synthesis.compat import serializers as s
from synthesis.compat.common import (
    ElevenLabsView,
    encode_options,
    job_params,
    job_start,
    stream_answer,
    valid,
)
from synthesis.jobs import catalog
from synthesis.jobs import selectors as synthesis_selectors
from synthesis.models import SynthesisJob
from voices import selectors as voice_selectors
from voices.selectors import LANGUAGE_NAMES

DEFAULT_OUTPUT_FORMAT = "mp3_44100_128"
_OUTPUT_FORMAT = re.compile(r"(?P<codec>[a-z0-9]+)_(?P<rate>\d+)(?:_(?P<kbps>\d+))?")
# ulaw/alaw: raw 8 kHz G.711 bytes without a header, as ElevenLabs sends them (Twilio).
_CODECS = ("mp3", "pcm", "wav", "opus", "ulaw", "alaw")
_NO_BITRATE = ("pcm", "wav", "ulaw", "alaw")
TTS_ERROR_CODES = {"voice_settings": "invalid_speed", "seed": "invalid_seed"}


def output_format_parse(value: str | None) -> tuple[str, int, int | None]:
    """ElevenLabs' "codec_rate[_kbps]" (mp3_44100_128, pcm_16000, opus_48000_64, wav_22050,
    ulaw_8000, alaw_8000) as (format, sample rate, bits per second); the rate and bitrate are
    checked later (ulaw_16000 is refused there: G.711 is 8 kHz only)."""
    value = (value or DEFAULT_OUTPUT_FORMAT).strip().lower()
    match = _OUTPUT_FORMAT.fullmatch(value)
    if match is None:
        raise ApiError(
            code="unsupported_format",
            message=f"output_format {value!r} is not like mp3_44100_128, pcm_24000 or "
            "opus_48000_64.",
        )
    codec, kbps = match["codec"], match["kbps"]
    if codec not in _CODECS:
        raise ApiError(
            code="unsupported_format",
            message=f"{codec} output is not available here; use one of: "
            f"{', '.join(f'{c}_*' for c in _CODECS)}.",
        )
    if kbps and codec in _NO_BITRATE:
        raise ApiError(code="unsupported_format", message=f"{codec} output has no bitrate.")
    return codec, int(match["rate"]), int(kbps) * 1000 if kbps else None


def model_engine(model_id: str | None) -> str:
    """The engine an ElevenLabs `model_id` selects (synthesis.jobs.catalog): an engine's model
    id, or an alias from the table; none given, or an alias without an engine, is "" (the
    operator's default model)."""
    return catalog.model_engine(model_id, surface=catalog.ELEVENLABS, field="model_id")


def tts_job_start(request, voice_id, *, timestamps: bool = False):
    """Validate an ElevenLabs text-to-speech request and start its stream job.

    Returns (job, encode options, validated body); shared by convert, stream and the
    with-timestamps routes.
    """
    fmt, rate, bitrate = output_format_parse(request.query_params.get("output_format"))
    data = valid(s.TextToSpeechInput, request.data, codes=TTS_ERROR_CODES)
    voice = voice_selectors.voice_find(user=request.user, reference=voice_id, by_name=False)
    engine = model_engine(data.get("model_id"))
    options = encode_options(voice, fmt=fmt, sample_rate=rate, bitrate=bitrate, engine=engine)
    speed = (data.get("voice_settings") or {}).get("speed")
    job = job_start(
        request,
        voice=voice,
        text=data["text"],
        language=data.get("language_code") or "",
        options=options,
        params=job_params(speed=speed, seed=data.get("seed")),
        timestamps=timestamps,
        engine=engine,
    )
    return job, options, data


class TextToSpeech(ElevenLabsView):
    """POST /v1/text-to-speech/{voice_id}[/stream] → audio as the worker generates it.

    Both paths stream (ElevenLabs' convert answers a stream too); the job's whole file is kept
    for /v1/history/{id}/audio.
    """

    required_scope = "tts"
    parser_classes = [JSONParser]

    def post(self, request, voice_id):
        job, options, _ = tts_job_start(request, voice_id)
        response = stream_answer(request, job, options)
        response["history-item-id"] = response["request-id"] = str(job.code)
        return response


# --- history ----------------------------------------------------------------------------------
class HistoryList(ElevenLabsView):
    """GET /v1/history: your synthesis jobs (from every API and the dashboard), newest first."""

    required_scope = "history:read"

    def get(self, request):
        query = valid(s.HistoryQuery, request.query_params)
        items, has_more = _history_page(
            request.user,
            page_size=query["page_size"],
            start_after=query.get("start_after_history_item_id"),
            voice_code=query.get("voice_id"),
        )
        return Response(
            {
                "history": [s.history_item(job) for job in items],
                "last_history_item_id": str(items[-1].code) if items else None,
                "has_more": has_more,
                "scanned_until": None,
            }
        )


def _history_page(user, *, page_size: int, start_after=None, voice_code=None):
    """(items, has_more); `start_after` is the last item of the previous page."""
    jobs = synthesis_selectors.job_list(user=user, voice=voice_code)
    if start_after is not None:
        anchor = synthesis_selectors.job_list(user=user).filter(code=start_after)
        anchor = anchor.values("created_at", "id").first()
        if anchor is None:
            raise _history_item_not_found()
        jobs = jobs.filter(
            Q(created_at__lt=anchor["created_at"])
            | Q(created_at=anchor["created_at"], id__lt=anchor["id"])
        )
    items = list(jobs[: page_size + 1])
    return items[:page_size], len(items) > page_size


class HistoryDetail(ElevenLabsView):
    required_scope = "history:read"

    def get(self, request, item_id):
        return Response(s.history_item(_job(request.user, item_id)))


class HistoryAudio(ElevenLabsView):
    """GET /v1/history/{id}/audio: the stored file of a finished job (Range works)."""

    required_scope = "history:read"

    def get(self, request, item_id):
        job = _job(request.user, item_id)
        return job_audio_response(request, job, api_key=request_api_key(request))


def _job(user, item_id) -> SynthesisJob:
    try:
        return synthesis_selectors.job_get(user=user, code=uuid.UUID(str(item_id)))
    except (ValueError, Http404):
        raise _history_item_not_found() from None


def _history_item_not_found() -> ApiError:
    return ApiError(
        code="not_found",
        message="No such history item among yours.",
        status_code=status.HTTP_404_NOT_FOUND,
    )


# --- subscription and models ------------------------------------------------------------------
class UserSubscription(ElevenLabsView):
    """GET /v1/user/subscription: your plan's limits and this month's use."""

    required_scope = "usage:read"

    def get(self, request):
        return Response(subscription(request.user, request_api_key(request)))


class UserDetail(ElevenLabsView):
    """GET /v1/user (the SDK's user.get): who the key belongs to, with the subscription."""

    required_scope = "usage:read"

    def get(self, request):
        user, key = request.user, request_api_key(request)
        return Response(
            {
                "user_id": str(user.code),
                "workspace_id": str(user.code),  # no workspaces here: one per user
                "subscription": subscription(user, key),
                "is_new_user": False,
                "can_use_delayed_payment_methods": False,
                "is_onboarding_completed": True,
                "is_onboarding_checklist_completed": True,
                "first_name": user.display_name or user.first_name or None,
                "is_api_key_hashed": True,
                "xi_api_key_preview": f"{key.prefix}..." if key else None,
                "created_at": int(user.date_joined.timestamp()),
                "seat_type": "workspace_admin",
            }
        )


def subscription(user, api_key=None) -> dict:
    plan = plan_for_user(user)
    summary = usage_summary(user=user, api_key=api_key)
    characters, slots = summary["characters"], summary["voice_slots"]
    return {
        "tier": plan.slug,
        # Reserved characters (jobs still running) count against the limit too.
        "character_count": characters["used"] + characters["reserved"],
        "character_limit": characters["limit"],
        "max_character_limit_extension": None,
        "max_credit_limit_extension": 0,
        "can_extend_character_limit": False,
        "allowed_to_extend_character_limit": False,
        "next_character_count_reset_unix": int(summary["resets_at"].timestamp()),
        "voice_slots_used": slots["used"],
        "professional_voice_slots_used": 0,
        "professional_voice_slots_used_in_workspace": 0,
        "voice_limit": slots["limit"],
        "max_voice_add_edits": None,
        "voice_add_edit_counter": 0,
        "professional_voice_limit": 0,
        "can_extend_voice_limit": False,
        "can_use_instant_voice_cloning": True,
        "can_use_professional_voice_cloning": False,
        "currency": None,
        "current_overage": {"amount": "0", "currency": "usd"},
        "status": "active",
        "billing_period": None,
        "character_refresh_period": "monthly_period",
        "next_invoice": None,
        "open_invoices": [],
        "has_open_invoices": False,
        # Timbre's own plan limits, beside ElevenLabs' fields.
        "plan_name": plan.name,
        "concurrent_jobs": plan.concurrent_jobs,
        "max_upload_mb": plan.max_upload_mb,
        "api_key": summary["api_key"],  # this key's own monthly cap, when it has one
    }


def eleven_models() -> list[dict]:
    """GET /v1/models for ElevenLabs clients: each engine's model, then the enabled aliases
    (synthesis.jobs.catalog), in ElevenLabs' shape with Timbre's description beside it."""
    every = [{"language_id": code, "name": name} for code, name in LANGUAGE_NAMES.items()]
    return [_eleven_model(entry, every) for entry in model_list(surface=catalog.ELEVENLABS)]


def _eleven_model(entry: dict, every: list[dict]) -> dict:
    if entry["kind"] == "engine":
        whose = "your cloned voices" if entry["clones"] else "stock voices"
        name = f"{entry['label']} ({whose})"
    else:
        name = entry["label"]
    codes = entry["languages"]
    return {
        "model_id": entry["model_id"],
        "name": name,
        "can_do_text_to_speech": True,
        "can_do_voice_conversion": False,
        "can_be_finetuned": False,
        "languages": [{"language_id": c, "name": LANGUAGE_NAMES.get(c, c)} for c in codes] or every,
        "timbre": entry,
    }
