"""XTTS v2 (Coqui): voice cloning in 17 languages. Facts only; the engine is in `engine.py`.

Weights: the Coqui Public Model License forbids commercial use (see the README).
"""

from ..facts import EngineFacts, ParamSpec

# Per-language character limits of coqui's VoiceBpeTokenizer (0.28.0), counted with len():
# the one table of XTTS's languages (the checkpoint writer and the engine read it from here).
CHAR_LIMITS = {
    "en": 250, "es": 239, "fr": 273, "de": 253, "it": 213, "pt": 203, "pl": 224, "tr": 226,
    "ru": 182, "nl": 251, "cs": 186, "ar": 166, "zh-cn": 82, "hu": 224, "ko": 95, "ja": 71,
    "hi": 150,
}  # fmt: skip

FACTS = EngineFacts(
    name="xtts",
    label="XTTS v2",
    model_id="xtts-v2",
    engine_class="synthesis.engines.xtts.engine:XttsEngine",
    settings_factory="synthesis.engines.xtts.engine:from_settings",
    sample_rate=24_000,
    char_limits=CHAR_LIMITS,
    language_aliases={"zh": "zh-cn"},
    params=(
        ParamSpec("speed", float, 1.0, 0.25, 4.0, help="Speaking rate (1 = normal)."),
        ParamSpec("temperature", float, 0.75, 0.01, 5.0, help="Sampling temperature."),
        ParamSpec("top_k", int, 50, 1, 10_000, help="Sample from the k likeliest tokens."),
        ParamSpec("top_p", float, 0.85, 0.01, 1.0, help="Nucleus sampling threshold."),
        ParamSpec("repetition_penalty", float, 10.0, 1.0, 50.0),
        ParamSpec("length_penalty", float, 1.0, 0.0, 10.0),
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
            100_000,
            nullable=True,
            help="Advanced: generate exactly this many audio tokens per chunk (benchmarks).",
        ),
    ),
    clones=True,
    streams=True,
    needs_reference_text=False,
    commercial_use=False,
    licence="Coqui Public Model License 1.0.0 (non-commercial)",
)
