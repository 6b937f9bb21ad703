from django.urls import path

from voices import views

app_name = "voices"

urlpatterns = [
    path("", views.voice_list, name="list"),
    path("new/", views.voice_new, name="new"),
    path("mix/", views.voice_mix, name="mix"),
    path("<uuid:code>/", views.voice_detail, name="detail"),
    path("<uuid:code>/rename/", views.voice_rename, name="rename"),
    path("<uuid:code>/delete/", views.voice_delete, name="delete"),
    path("<uuid:code>/retry/", views.voice_retry, name="retry"),
    path("<uuid:code>/engines/", views.voice_engine_add, name="engine_add"),
    path("samples/", views.sample_list, name="samples"),
    path("samples/upload/", views.sample_upload, name="sample_upload"),
    path("samples/record/", views.sample_record, name="sample_record"),
    path("samples/<uuid:code>/", views.sample_detail, name="sample_detail"),
    path("samples/<uuid:code>/report", views.sample_report, name="sample_report"),
    path("samples/<uuid:code>/audio", views.sample_audio, name="sample_audio"),
    path("samples/<uuid:code>/delete/", views.sample_delete, name="sample_delete"),
]
