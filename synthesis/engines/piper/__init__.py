"""Piper: stock voices on the CPU (a voice speaks its own language). Facts only; the engine is
in `engine.py`. piper-tts 1.8 is GPL-3.0-or-later."""

from ..facts import EngineFacts, ParamSpec

FACTS = EngineFacts(
    name="piper",
    label="Piper",
    model_id="piper",
    engine_class="synthesis.engines.piper.engine:PiperEngine",
    settings_factory="synthesis.engines.piper.engine:from_settings",
    sample_rate=22_050,
    default_char_limit=400,
    voice_language_only=True,
    params=(
        ParamSpec("speed", float, 1.0, 0.25, 4.0, help="Speaking rate (1 = normal)."),
        ParamSpec(
            "temperature",
            float,
            0.75,
            0.01,
            5.0,
            help="Scales the voice's sampling noise (0.75 = as trained).",
        ),
        ParamSpec(
            "seed",
            int,
            None,
            0,
            2**63 - 1,
            nullable=True,
            help="Any seed turns Piper's sampling noise off: the same text, the same audio.",
        ),
    ),
    stock_voices=True,
    streams=True,
    commercial_use=True,
    licence="piper-tts: GPL-3.0-or-later; bundled en_US Joe voice: see its model card",
)
