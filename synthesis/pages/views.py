"""Dashboard pages: type text, pick a voice, follow the job, listen."""

import uuid

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.serializers.json import DjangoJSONEncoder
from django.http import Http404, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_POST

from accounts.selectors import plan_for_user
from accounts.usage import characters_remaining
from config import ranges
from config.api import error_body
from config.service_errors import ServiceError, http_status
from synthesis.api.catalog import model_list
from synthesis.jobs import services
from synthesis.jobs.catalog import NATIVE
from synthesis.jobs.encoding import FORMATS
from synthesis.jobs.text import normalize_text
from synthesis.models import SynthesisJob
from synthesis.pages.forms import SpeakForm, language_name
from synthesis.workers.status import cloning_summary
from voices.models import Voice
from voices.selectors import visible_to

# Texts up to this many characters are streamed and start playing while they are generated.
STREAM_UP_TO = 300


@login_required
def dashboard(request):
    from accounts.usage import usage_summary
    from synthesis.jobs.selectors import job_list

    context = {
        "plan": plan_for_user(request.user),
        "cloning": cloning_summary(),
        "usage": usage_summary(user=request.user),
        "recent_jobs": job_list(user=request.user)[:5],
        "models": [m for m in model_list(surface=NATIVE) if m["kind"] == "engine"],
        "commercial_only": settings.TIMBRE_COMMERCIAL_ONLY,
    }
    return render(request, "dashboard.html", context)


def _ready_voices(user):
    ready = Voice.objects.filter(status=Voice.Status.READY).prefetch_related("conditionings")
    return visible_to(ready, user).order_by("-is_stock", "name")


def _wants_json(request) -> bool:
    return request.headers.get("Accept", "").startswith("application/json")


def _prefill(request) -> dict:
    """Initial values from `?from=<job code>` (regenerate one of your own jobs, else 404) or
    `?voice=<voice code>` (try a voice: an unknown one is simply not preselected)."""
    code = request.GET.get("from")
    if not code:
        return {"voice": request.GET["voice"]} if request.GET.get("voice") else {}
    try:
        job = _own_job(request, uuid.UUID(code))
    except ValueError:
        raise Http404("No such job.") from None
    initial = {
        "text": job.text,
        "language": job.language,
        "output_format": job.output_format,
        "speed": (job.params or {}).get("speed", 1.0),
        "model": job.engine,  # the same model again, when the voice still has it
    }
    if job.voice is not None:
        initial["voice"] = job.voice.code
    return initial


@login_required
def speak(request):
    voices = _ready_voices(request.user)
    form = SpeakForm(request.POST or None, voices=voices, initial=_prefill(request))
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            job = services.job_create(
                owner=request.user,
                voice=data["voice"],
                text=data["text"],
                language=data["language"],
                output_format=data["output_format"],
                params=data["params"],
                engine=data["engine"],
                request=request,
            )
        except ServiceError as exc:  # quota refusals say what ran out and when it resets
            if _wants_json(request):  # the service's own code and status (429 for a quota)
                body = error_body(exc.code, exc.message, exc.details)
                return JsonResponse(body, status=http_status(exc.code), encoder=DjangoJSONEncoder)
            form.add_error(None, exc.message)
        else:
            if _wants_json(request):
                return JsonResponse(_job_json(job), status=201)
            messages.success(request, "Queued: the audio appears here as soon as it is ready.")
            return redirect("synthesis_job", code=job.code)
    if request.method == "POST" and _wants_json(request):
        return JsonResponse(_form_errors(form), status=400)
    return render(request, "synthesis/speak.html", _speak_context(request, form, voices))


def _speak_context(request, form, voices) -> dict:
    limit, remaining = characters_remaining(user=request.user)
    studio = {
        "voices": list(form.summaries.values()),
        "remaining": remaining,
        "limit": limit,
        "maxCharacters": settings.SYNTHESIS_MAX_CHARACTERS,
        "streamCharacters": min(STREAM_UP_TO, settings.SYNTHESIS_STREAM_MAX_CHARACTERS),
    }
    return {
        "form": form,
        "cloning": cloning_summary(),
        "has_voices": voices.exists(),
        "studio": studio,
        "remaining": remaining,
        "limit": limit,
    }


def _form_errors(form) -> dict:
    errors = {name: [str(e) for e in errs] for name, errs in form.errors.items()}
    first = next(iter(errors.values()), ["The form has errors."])[0]
    return {"error": {"code": "invalid_request", "message": first, "details": errors}}


@login_required
@require_POST
def speak_cost(request):
    """What a text costs as the quota counts it (the normalised text's characters)."""
    text = request.POST.get("text", "")
    characters = len(normalize_text(text)) if text.strip() else 0
    limit, remaining = characters_remaining(user=request.user)
    over = remaining is not None and characters > remaining
    return JsonResponse(
        {"characters": characters, "limit": limit, "remaining": remaining, "over_quota": over}
    )


def _own_job(request, code) -> SynthesisJob:
    return get_object_or_404(
        SynthesisJob.objects.select_related("voice"), code=code, owner=request.user
    )


def _estimate(job: SynthesisJob) -> tuple[float | None, float | None]:
    """(elapsed, seconds left) of a running job, from its chunks done so far."""
    if job.started_at is None:
        return None, None
    end = job.finished_at or timezone.now()
    elapsed = max((end - job.started_at).total_seconds(), 0.0)
    if job.is_terminal or not job.chunks_done or not job.chunks_total:
        return elapsed, None
    left = elapsed / job.chunks_done * max(job.chunks_total - job.chunks_done, 0)
    return elapsed, left


def _job_json(job: SynthesisJob) -> dict:
    elapsed, left = _estimate(job)
    has_audio = job.status == SynthesisJob.Status.SUCCEEDED and bool(job.audio)
    audio_url = reverse("synthesis_job_audio", kwargs={"code": job.code}) if has_audio else None
    return {
        "code": str(job.code),
        "url": reverse("synthesis_job", kwargs={"code": job.code}),
        "cancel_url": reverse("synthesis_job_cancel", kwargs={"code": job.code}),
        "status": job.status,
        "status_display": job.get_status_display(),
        "terminal": job.is_terminal,
        "cancel_requested": job.cancel_requested,
        "progress": job.progress,
        "chunks_done": job.chunks_done,
        "chunks_total": job.chunks_total,
        "elapsed_seconds": elapsed,
        "estimate_seconds": left,
        "characters": job.characters,
        "audio_seconds": job.audio_seconds,
        "audio_url": audio_url,
        "download_url": f"{audio_url}?download=1" if audio_url else None,
        "error": job.error,
    }


@login_required
def job_detail(request, code):
    job = _own_job(request, code)
    if _wants_json(request):
        return JsonResponse(_job_json(job))
    elapsed, left = _estimate(job)
    context = {
        "job": job,
        "elapsed": elapsed,
        "estimate": left,
        "language_name": language_name(job.language),
    }
    return render(request, "synthesis/job_detail.html", context)


@login_required
@require_POST
def job_cancel(request, code):
    job = _own_job(request, code)
    try:
        services.job_cancel(job=job, user=request.user, request=request)
    except ServiceError as exc:  # it ended meanwhile
        if _wants_json(request):
            return JsonResponse(
                {"error": {"code": exc.code, "message": exc.message, "details": {}}}, status=409
            )
        messages.info(request, exc.message)
    else:
        if not _wants_json(request):
            messages.success(request, "Cancelling: nothing is charged for this job.")
    if _wants_json(request):
        job.refresh_from_db()
        return JsonResponse(_job_json(job))
    return redirect("synthesis_job", code=job.code)


@login_required
def job_audio(request, code):
    """The job's audio for its owner: Range (206) for seeking, `?download=1` for a download."""
    job = _own_job(request, code)
    if job.status != SynthesisJob.Status.SUCCEEDED or not job.audio:
        raise Http404("No audio for this job.")
    fmt = FORMATS[job.output_format]
    return ranges.storage_file_response(
        request,
        job.audio.storage,
        job.audio.name,
        content_type=fmt.content_type,
        filename=f"timbre-{job.code}.{fmt.extension}",
    )


@login_required
def job_captions(request, code, extension):
    """Captions of the job's audio (WebVTT or SRT), timed as GET /api/v1/synthesis/{id}/timings."""
    from synthesis.jobs.alignment import srt, webvtt
    from synthesis.jobs.outputs import job_timings

    job = _own_job(request, code)
    render_captions = {"vtt": webvtt, "srt": srt}.get(extension)
    document = job_timings(job) if render_captions else None
    if document is None:
        raise Http404("No captions for this job.")
    content_type = "text/vtt" if extension == "vtt" else "application/x-subrip"
    response = HttpResponse(
        render_captions(document["words"]), content_type=f"{content_type}; charset=utf-8"
    )
    response["Content-Disposition"] = f'attachment; filename="timbre-{job.code}.{extension}"'
    return response
