"""Chatterbox Multilingual (Resemble AI): voice cloning in 23 languages, MIT code and weights.
Facts only; the engine is in `engine.py` (imported by workers alone).
"""

from ..facts import EngineFacts, ParamSpec

# Characters of one chunk, per language. Chatterbox has no per-language limit of its own: T3
# takes up to 2048 text tokens and speaks at ~25 speech tokens a second, and upstream's
# generate() stops at 1000 speech tokens (40 s). A chunk must fit that budget with room to
# spare, so the limits aim at ~15-20 s of speech at ordinary reading speed: ~300 characters of
# alphabetic text (~15 characters a second), less where one character carries more speech
# (Chinese and Japanese ~5-7 a second, Korean ~8) and for scripts whose words are long in
# letters-per-second terms (Finnish, Greek, Hindi, Arabic, Hebrew sit between).
CHAR_LIMITS = {
    "ar": 220, "da": 280, "de": 280, "el": 260, "en": 300, "es": 300, "fi": 260, "fr": 300,
    "he": 220, "hi": 220, "it": 300, "ja": 110, "ko": 140, "ms": 300, "nl": 280, "no": 280,
    "pl": 260, "pt": 300, "ru": 260, "sv": 280, "sw": 280, "tr": 260, "zh": 90,
}  # fmt: skip

LANGUAGE_ALIASES = {
    "zh-cn": "zh", "zh-tw": "zh", "zh-hans": "zh", "zh-hant": "zh", "nb": "no", "nn": "no",
    "en-us": "en", "en-gb": "en", "pt-br": "pt", "pt-pt": "pt", "es-mx": "es", "fr-ca": "fr",
    "iw": "he", "in": "ms",
}  # fmt: skip

FACTS = EngineFacts(
    name="chatterbox",
    label="Chatterbox Multilingual",
    model_id="chatterbox-multilingual",
    engine_class="synthesis.engines.chatterbox.engine:ChatterboxEngine",
    settings_factory="synthesis.engines.chatterbox.engine:from_settings",
    sample_rate=24_000,
    char_limits=CHAR_LIMITS,
    default_char_limit=250,
    language_aliases=LANGUAGE_ALIASES,
    params=(
        ParamSpec(
            "exaggeration",
            float,
            0.5,
            0.0,
            2.0,
            help="Emotion intensity (0.5 = neutral; higher is more expressive).",
        ),
        ParamSpec(
            "cfg_weight",
            float,
            0.5,
            0.0,
            1.0,
            help="Classifier-free guidance: how closely delivery follows the text (0 = off).",
        ),
        ParamSpec("temperature", float, 0.8, 0.05, 5.0, help="Sampling temperature."),
        ParamSpec(
            "repetition_penalty",
            float,
            2.0,
            1.0,
            10.0,
            help="Penalty on repeating speech tokens (1 = none).",
        ),
        ParamSpec("min_p", float, 0.05, 0.0, 1.0, help="Drop tokens below min_p x the top one."),
        ParamSpec("top_p", float, 1.0, 0.01, 1.0, help="Nucleus sampling threshold."),
        ParamSpec(
            "speed",
            float,
            1.0,
            0.5,
            2.0,
            help="Speaking rate (1 = normal); a pitch-preserving time stretch of the output.",
        ),
        ParamSpec(
            "seed",
            int,
            None,
            0,
            2**63 - 1,
            nullable=True,
            help="Same seed, text and voice: the same audio.",
        ),
        ParamSpec(
            "max_new_tokens",
            int,
            None,
            1,
            4096,
            nullable=True,
            help="Advanced: at most this many speech tokens (25 a second) per chunk.",
        ),
    ),
    clones=True,
    streams=True,
    needs_reference_text=False,
    commercial_use=True,
    licence="MIT (code and weights, Resemble AI)",
)
