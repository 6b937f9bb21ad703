"""HTTP APIs that OpenAI and ElevenLabs clients already speak, under /v1/ (and /v2/voices).

Both are thin translations onto the same services as Timbre's own API (synthesis.jobs.services,
voices.services): a request becomes a stream job, and the audio is relayed to the client while
the worker generates it. A service refusal (config.service_errors.ServiceError) gets the native
API's status, in the shape each vendor's clients read (synthesis.compat.common): OpenAI's
{"error": {"message", "type", "param", "code"}}, and for ElevenLabs {"detail": {"status",
"message"}} beside Timbre's {"error": {"code", "message", "details"}}.

What is translated, and what is accepted but has no effect here:

- The model chooses the engine that speaks (synthesis.jobs.catalog, the one resolver of every
  surface): an installed engine's model id or name ("chatterbox-multilingual", "xtts-v2",
  "piper") selects that engine; an alias from the table (synthesis.ModelAlias, edited in the
  admin; seeded with tts-1, tts-1-hd, gpt-4o-mini-tts and its dated name, and ElevenLabs'
  eleven_* ids) selects the engine the operator tied it to, or, with none, the default model
  (TIMBRE_DEFAULT_MODEL). A voice not built for the chosen engine is a 400
  `model_not_available`; an unknown name a 400 `unsupported_model` listing the accepted ones.
- OpenAI `model`: see above. `instructions` is accepted and ignored (no engine here
  takes style prompts).
  `stream_format="sse"` is allowed for every model (OpenAI refuses it for tts-1/tts-1-hd).
- ElevenLabs `model_id` (every TTS route, and the stream-input WebSocket's query): an alias for
  ElevenLabs clients or an engine's model id; none given is the default model.
  `voice_settings.speed` maps to speed; stability, similarity_boost, style and
  use_speaker_boost are ignored. `seed` is honoured. `previous_text` / `next_text` and the
  request-stitching ids are accepted and ignored: XTTS conditions on the voice only, so text
  around the request cannot change how it is spoken. `language_code` picks the language (else
  the voice's language, else its engine's first). `optimize_streaming_latency` and
  `enable_logging` are ignored (every job is logged in the history, which is how /v1/history works).
- `output_format` (ElevenLabs) is "codec_rate[_kbps]": mp3, pcm, wav and opus at the rates the
  codec allows, and ulaw_8000 / alaw_8000 (raw G.711 bytes, no header; other rates get a 400).
  The stored file keeps the asked bitrate, and the history reports it (mp3_44100_128).
- FLAC (OpenAI `response_format="flac"`, and Timbre's own stream) is not streamed piece by
  piece: its header must carry the sample count, so the whole file is sent once the audio is
  complete. Every other format streams while it is generated.

- Every text-to-speech request is a stream job (synthesis.jobs.services.job_create(stream=True)):
  quota, audit and the history are the same as for Timbre's own API, the audio is relayed by
  synthesis.api.responses, texts are limited to SYNTHESIS_STREAM_MAX_CHARACTERS, and a client
  that hangs up cancels (and refunds) its job. ElevenLabs' convert streams too.
- /v1/history lists every job of the user (from any API or the dashboard); the audio of an item
  is its stored file (with Range). /v1/user/subscription reads accounts.usage.
- POST /v1/voices/add answers 400 where Timbre would say 409 (e.g. voice_name_taken): the
  elevenlabs SDK retries 409s, and its retry drops the form fields.
- GET /v1/models answers OpenAI's list shape, or ElevenLabs' when the key came as xi-api-key;
  GET /v1/models/{model} answers one (404 in OpenAI's shape when it is not offered). Each entry
  also carries Timbre's description (OpenAI: beside `id`; ElevenLabs: under `timbre`): engine,
  languages, parameters, licence, commercial_use, loaded (a worker has it ready now), default.
- POST /v1/voices/add answers once the voice can speak (synthesis.compat.elevenlabs_voices), or
  403 `consent_required` naming the page where the owner records the consent statement.
- GET /v2/voices (voices.search) filters by search, voice_type, category, labels, language and
  voice_ids, and pages with next_page_token; /v1/voices/{id}/settings and
  /v1/voices/settings/default report speed (the site default) and ElevenLabs' defaults for the
  settings that have no effect here; GET /v1/user wraps /v1/user/subscription.
- Errors on /v1/ and /v2/ that no view produced (unknown route, wrong method, 500) carry both
  shapes, {"error": {"message", "type", "param", "code", "details"}, "detail": {"status",
  "message"}}, so that both SDKs read them (config.errors).

Jobs created here, like every job, carry settings.SYNTHESIS_DEFAULT_PARAMS (as far as the
voice's engine takes them) under the request's own parameters.
"""
