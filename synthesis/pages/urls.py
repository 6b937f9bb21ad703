from django.urls import path

from synthesis.pages import views as pages

urlpatterns = [
    path("dashboard/", pages.dashboard, name="dashboard"),
    path("speak/", pages.speak, name="speak"),
    path("speak/cost", pages.speak_cost, name="speak_cost"),
    path("jobs/<uuid:code>/", pages.job_detail, name="synthesis_job"),
    path("jobs/<uuid:code>/cancel", pages.job_cancel, name="synthesis_job_cancel"),
    path("jobs/<uuid:code>/audio", pages.job_audio, name="synthesis_job_audio"),
    path(
        "jobs/<uuid:code>/captions.<str:extension>",
        pages.job_captions,
        name="synthesis_job_captions",
    ),
]
