"""Voices pages. The browser flows (recording, consent, build progress) call the JSON API."""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpResponseRedirect
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.csrf import csrf_exempt, csrf_protect
from django.views.decorators.http import require_POST

from accounts.selectors import plan_for_user
from config.service_errors import ServiceError
from synthesis.engines import engines
from voices import selectors, services
from voices.api.views import sample_audio_response
from voices.consent_text import ATTESTATION_TEXT
from voices.forms import (
    SampleUploadForm,
    VoiceEngineAddForm,
    VoiceMixForm,
    VoiceRenameForm,
    language_choices,
)
from voices.models import Voice
from voices.uploads import UploadTooLarge, upload_guard_install

# What users read when no worker can clone voices; the reason and fix are for staff only.
CLONING_UNAVAILABLE = "Voice cloning is not available on this server yet."

# Read aloud on the recording page: varied English sounds, about 30 s at a calm pace.
PASSAGE = (
    "When the sunlight strikes raindrops in the air, they act as a prism and form a rainbow. "
    "The rainbow is a division of white light into many beautiful colours. These take the shape "
    "of a long round arch, with its path high above, and its two ends apparently beyond the "
    "horizon. There is, according to legend, a boiling pot of gold at one end. People look, "
    "but no one ever finds it."
)


def _slots(user) -> dict:
    slots, used = plan_for_user(user).voice_slots, selectors.voice_slots_used(user=user)
    return {"slots": slots, "used": used, "slots_free": used < slots}


def _cloning_ready(cloning) -> bool:
    return cloning is None or cloning.ready


@login_required
def voice_list(request):
    query = request.GET.get("q", "").strip()[:100]
    voices = selectors.voice_list(user=request.user)
    if query:
        voices = voices.filter(name__icontains=query)
    context = {"voices": voices, "q": query, "cloning": selectors.cloning_status()}
    return render(request, "voices/voice_list.html", context | _slots(request.user))


@login_required
def voice_detail(request, code):
    voice = selectors.voice_get(user=request.user, code=code)
    initial = {"name": voice.name, "description": voice.description}
    cloning = selectors.cloning_status()
    refusal = ""
    if voice.status == Voice.Status.FAILED and not voice.is_stock:
        refusal = services.voice_retry_refusal(voice)
        if not refusal and not _cloning_ready(cloning):
            refusal = f"{CLONING_UNAVAILABLE} You can retry once it is."
        if not refusal and not _slots(request.user)["slots_free"]:
            refusal = "All your voice slots are in use; delete a voice to retry this one."
    context = {
        "voice": voice,
        "rename_form": VoiceRenameForm(initial=initial),
        "cloning": cloning,
        "retry_refusal": refusal,
        "voice_engines": selectors.voice_engine_list(voice),
        "engine_add_form": _engine_add_form(voice),
    }
    if voice.status == Voice.Status.PENDING_CONSENT:
        context |= _consent_context()
        context["blocked"] = "" if _cloning_ready(cloning) else CLONING_UNAVAILABLE
    return render(request, "voices/voice_detail.html", context)


def _engine_add_form(voice: Voice) -> VoiceEngineAddForm | None:
    """The "Add a model" form of an owner's ready voice, when some cloning engine is missing."""
    if voice.is_stock or voice.is_mix or voice.status != Voice.Status.READY:
        return None
    form = VoiceEngineAddForm(voice=voice)
    return form if form.fields["engine"].choices else None


@login_required
@require_POST
def voice_engine_add(request, code):
    voice = selectors.voice_get(user=request.user, code=code)
    form = VoiceEngineAddForm(request.POST, voice=voice)
    if not form.is_valid():
        messages.error(request, "Choose a model to add.")
        return redirect("voices:detail", code=voice.code)
    try:
        services.voice_engine_add(
            user=request.user, voice=voice, engine=form.cleaned_data["engine"], request=request
        )
        messages.success(request, "The voice is being built for that model too.")
    except ServiceError as exc:
        messages.error(request, exc.message)
    return redirect("voices:detail", code=voice.code)


@login_required
@require_POST
def voice_retry(request, code):
    voice = selectors.voice_get(user=request.user, code=code)
    if not _cloning_ready(selectors.cloning_status()):
        messages.error(request, CLONING_UNAVAILABLE)  # it would only fail again
        return redirect("voices:detail", code=voice.code)
    try:
        services.voice_build_retry(user=request.user, voice=voice, request=request)
        messages.success(request, "The voice is being built again.")
    except ServiceError as exc:
        messages.error(request, exc.message)
    return redirect("voices:detail", code=voice.code)


@login_required
def voice_mix(request):
    voices = selectors.voice_mixable(user=request.user)
    form = VoiceMixForm(request.POST or None, voices=voices)
    status = 200
    if request.method == "POST":
        mixed = _voice_mix(request, form)
        if mixed is not None:
            messages.success(request, f"Mixed {mixed.name}. Listen to it in Speak.")
            return redirect("voices:detail", code=mixed.code)
        status = 400
    context = {"form": form, "voices": voices} | _slots(request.user)
    return render(request, "voices/voice_mix.html", context, status=status)


def _voice_mix(request, form):
    if not form.is_valid():
        return None
    try:
        return services.voice_mix(
            owner=request.user,
            name=form.cleaned_data["name"],
            items=form.cleaned_data["items"],
            request=request,
        )
    except ServiceError as exc:
        form.add_error(None, exc.message)
        return None


@login_required
@require_POST
def voice_rename(request, code):
    voice = selectors.voice_get(user=request.user, code=code)
    form = VoiceRenameForm(request.POST)
    if form.is_valid():
        try:
            services.voice_rename(
                user=request.user, voice=voice, request=request, **form.cleaned_data
            )
            messages.success(request, "Voice saved.")
        except ServiceError as exc:
            messages.error(request, exc.message)
    else:
        messages.error(request, "Give the voice a name of 1-100 characters.")
    return redirect("voices:detail", code=voice.code)


@login_required
@require_POST
def voice_delete(request, code):
    voice = selectors.voice_get(user=request.user, code=code)
    try:
        services.voice_delete(user=request.user, voice=voice, request=request)
    except ServiceError as exc:
        messages.error(request, exc.message)
        return redirect("voices:detail", code=voice.code)
    messages.success(request, f"Voice {voice.name} and its samples were deleted.")
    return redirect("voices:list")


def _consent_context() -> dict:
    return {
        "attestation_text": ATTESTATION_TEXT,
        "recording_required": settings.VOICES_CONSENT_RECORDING_REQUIRED,
    }


@login_required
def voice_new(request):
    cloning = selectors.cloning_status()
    slots = _slots(request.user)
    blocked = ""
    if not _cloning_ready(cloning):
        blocked = CLONING_UNAVAILABLE
    elif not slots["slots_free"]:
        blocked = "All your voice slots are in use; delete a voice to make room."
    default = selectors.cloning_engine()
    context = {
        "samples": selectors.sample_ready_choices(user=request.user),
        "engine_choices": [f for f in engines().values() if f.clones],
        "default_engine": default.name if default else "",
        "languages": language_choices(),
        "cloning": cloning,
        "blocked": blocked,
        **slots,
        **_consent_context(),
    }
    return render(request, "voices/voice_new.html", context)


@login_required
def sample_list(request):
    samples = selectors.sample_list(user=request.user)
    context = {"samples": samples, "form": SampleUploadForm(), **_sample_page_context()}
    return render(request, "voices/sample_list.html", context)


def _sample_page_context() -> dict:
    return {"cloning": selectors.cloning_status()}


@csrf_exempt  # the CSRF check reads the body: the size guard must be installed first
@login_required
@require_POST
def sample_upload(request):
    try:
        upload_guard_install(request)
        return _sample_upload(request)
    except UploadTooLarge as exc:
        context = {
            "samples": selectors.sample_list(user=request.user),
            "form": SampleUploadForm(),
            "upload_error": exc.message,
            **_sample_page_context(),
        }
        return render(request, "voices/sample_list.html", context, status=413)


@csrf_protect
def _sample_upload(request):
    form = SampleUploadForm(request.POST, request.FILES)
    if not form.is_valid():
        context = {"samples": selectors.sample_list(user=request.user), "form": form}
        context |= _sample_page_context()
        return render(request, "voices/sample_list.html", context, status=400)
    sample = services.sample_create(
        owner=request.user, upload=form.cleaned_data["file"], request=request
    )
    messages.success(request, "Uploaded. We are checking the audio now.")
    return HttpResponseRedirect(reverse("voices:sample_detail", kwargs={"code": sample.code}))


@login_required
def sample_detail(request, code):
    sample = selectors.sample_get(user=request.user, code=code)
    return render(request, "voices/sample_detail.html", {"sample": sample})


@login_required
def sample_report(request, code):
    """The report of one sample as an HTML fragment: the recorder shows this, so a recording
    reads the same in the browser as on its page."""
    sample = selectors.sample_get(user=request.user, code=code)
    return render(request, "voices/_report.html", {"sample": sample})


@login_required
def sample_audio(request, code):
    return sample_audio_response(request, selectors.sample_get(user=request.user, code=code))


@login_required
@require_POST
def sample_delete(request, code):
    sample = selectors.sample_get(user=request.user, code=code)
    try:
        services.sample_delete(user=request.user, sample=sample, request=request)
        messages.success(request, "Sample deleted.")
    except ServiceError as exc:
        messages.error(request, exc.message)
    return redirect("voices:samples")


@login_required
def sample_record(request):
    context = {"passage": PASSAGE, **_sample_page_context()}
    return render(request, "voices/sample_record.html", context)
