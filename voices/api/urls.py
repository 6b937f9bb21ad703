from django.urls import path

from voices.api import views
from voices.api.reports import VoiceReport

urlpatterns = [
    path("samples", views.SampleListCreate.as_view(), name="api-samples"),
    path("samples/<uuid:code>", views.SampleDetail.as_view(), name="api-sample"),
    path("samples/<uuid:code>/audio", views.SampleAudio.as_view(), name="api-sample-audio"),
    path("consents", views.ConsentCreate.as_view(), name="api-consents"),
    path("consents/<uuid:code>", views.ConsentDetail.as_view(), name="api-consent"),
    path(
        "consents/<uuid:code>/recording",
        views.ConsentRecording.as_view(),
        name="api-consent-recording",
    ),
    path("voices", views.VoiceListCreate.as_view(), name="api-voices"),
    path("voices/mix", views.VoiceMix.as_view(), name="api-voice-mix"),
    path("voices/<uuid:code>", views.VoiceDetail.as_view(), name="api-voice"),
    path("voices/<uuid:code>/consent", views.VoiceConsent.as_view(), name="api-voice-consent"),
    path("voices/<uuid:code>/engines", views.VoiceEngines.as_view(), name="api-voice-engines"),
    path("voices/<uuid:code>/report", VoiceReport.as_view(), name="api-voice-report"),
    path("languages", views.LanguageList.as_view(), name="api-languages"),
]
