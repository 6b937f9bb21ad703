"""/v2/: the ElevenLabs routes that only exist in its second version (see synthesis.compat)."""

from django.urls import path

from synthesis.compat import elevenlabs_voices

urlpatterns = [
    path("voices", elevenlabs_voices.VoiceSearch.as_view(), name="compat-eleven-voice-search"),
]
