"""Dashboard pages: type text, pick a voice, follow the job, listen."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import FileResponse, Http404, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render

from accounts.selectors import plan_for_user
from config.service_errors import ServiceError
from synthesis.jobs import services
from synthesis.jobs.encoding import FORMATS
from synthesis.models import SynthesisJob
from synthesis.pages.forms import SpeakForm
from synthesis.workers.status import cloning_summary
from voices.models import Voice
from voices.selectors import visible_to


@login_required
def dashboard(request):
    context = {"plan": plan_for_user(request.user), "cloning": cloning_summary()}
    return render(request, "dashboard.html", context)


def _ready_voices(user):
    ready = Voice.objects.filter(status=Voice.Status.READY)
    return visible_to(ready, user).order_by("-is_stock", "name")


@login_required
def speak(request):
    voices = _ready_voices(request.user)
    form = SpeakForm(request.POST or None, voices=voices)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            job = services.job_create(
                owner=request.user,
                voice=data["voice"],
                text=data["text"],
                language=data["language"],
                output_format=data["output_format"],
                params={"speed": data["speed"]},
                request=request,
            )
        except ServiceError as exc:  # quota refusals say what ran out and when it resets
            form.add_error(None, exc.message)
        else:
            messages.success(request, "Queued: the audio appears here as soon as it is ready.")
            return redirect("synthesis_job", code=job.code)
    context = {"form": form, "cloning": cloning_summary(), "has_voices": voices.exists()}
    return render(request, "synthesis/speak.html", context)


def _own_job(request, code) -> SynthesisJob:
    return get_object_or_404(
        SynthesisJob.objects.select_related("voice"), code=code, owner=request.user
    )


@login_required
def job_detail(request, code):
    job = _own_job(request, code)
    if request.headers.get("Accept") == "application/json":
        return JsonResponse(
            {
                "status": job.status,
                "progress": job.progress,
                "chunks_done": job.chunks_done,
                "chunks_total": job.chunks_total,
                "error": job.error,
            }
        )
    return render(request, "synthesis/job_detail.html", {"job": job})


@login_required
def job_audio(request, code):
    job = _own_job(request, code)
    if job.status != SynthesisJob.Status.SUCCEEDED or not job.audio:
        raise Http404("No audio for this job.")
    fmt = FORMATS[job.output_format]
    return FileResponse(
        job.audio.open("rb"),
        content_type=fmt.content_type,
        filename=f"timbre-{job.code}.{fmt.extension}",
    )
