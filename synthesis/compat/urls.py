"""/v1/: the OpenAI- and ElevenLabs-compatible APIs (see synthesis.compat); /v2/ in urls_v2."""

from django.urls import path

from synthesis.compat import elevenlabs, elevenlabs_timestamps, elevenlabs_voices, openai, realtime

urlpatterns = [
    # OpenAI
    path("audio/speech", openai.Speech.as_view(), name="compat-openai-speech"),
    path("audio/voices", openai.VoiceList.as_view(), name="compat-openai-voices"),
    path("models", openai.ModelList.as_view(), name="compat-models"),
    path("models/<str:model>", openai.ModelDetail.as_view(), name="compat-model"),
    # ElevenLabs
    path(
        "text-to-speech/<str:voice_id>",
        elevenlabs.TextToSpeech.as_view(),
        name="compat-eleven-tts",
    ),
    path(
        "text-to-speech/<str:voice_id>/stream",
        elevenlabs.TextToSpeech.as_view(),
        name="compat-eleven-tts-stream",
    ),
    path(
        "text-to-speech/<str:voice_id>/stream/with-timestamps",
        realtime.TextToSpeechStreamWithTimestamps.as_view(),
        name="compat-eleven-tts-stream-timestamps",
    ),
    path(
        "text-to-speech/<str:voice_id>/with-timestamps",
        elevenlabs_timestamps.TextToSpeechWithTimestamps.as_view(),
        name="compat-eleven-tts-timestamps",
    ),
    path("voices", elevenlabs_voices.VoiceList.as_view(), name="compat-eleven-voices"),
    path("voices/add", elevenlabs_voices.VoiceAdd.as_view(), name="compat-eleven-voice-add"),
    # Before voices/<voice_id>/...: "settings" is not a voice id.
    path(
        "voices/settings/default",
        elevenlabs_voices.VoiceSettingsDefault.as_view(),
        name="compat-eleven-voice-settings-default",
    ),
    path(
        "voices/<str:voice_id>",
        elevenlabs_voices.VoiceDetail.as_view(),
        name="compat-eleven-voice",
    ),
    path(
        "voices/<str:voice_id>/settings",
        elevenlabs_voices.VoiceSettings.as_view(),
        name="compat-eleven-voice-settings",
    ),
    path("history", elevenlabs.HistoryList.as_view(), name="compat-eleven-history"),
    path("history/<str:item_id>", elevenlabs.HistoryDetail.as_view(), name="compat-eleven-item"),
    path(
        "history/<str:item_id>/audio",
        elevenlabs.HistoryAudio.as_view(),
        name="compat-eleven-item-audio",
    ),
    path("user", elevenlabs.UserDetail.as_view(), name="compat-eleven-user"),
    path(
        "user/subscription",
        elevenlabs.UserSubscription.as_view(),
        name="compat-eleven-subscription",
    ),
]
