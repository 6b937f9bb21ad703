"""A test-only speech engine: proves that an engine is a package and nothing else.

It is registered only in the test settings (TIMBRE_ENGINES) and is used end to end through the
native and the OpenAI-compatible APIs by a real worker. It speaks Esperanto and English (no
other engine speaks Esperanto), at 16 kHz, and takes a parameter no other engine has
(`pitch_hz`): each text becomes a sine tone at that pitch, 50 ms per character / speed.
"""

from synthesis.engines.facts import EngineFacts, ParamSpec

FACTS = EngineFacts(
    name="toy",
    label="Toy tone",
    model_id="toy-1",
    engine_class="tests.support.toy_engine.engine:ToyEngine",
    sample_rate=16_000,
    char_limits={"eo": 40, "en": 60},
    params=(
        ParamSpec("speed", float, 1.0, 0.5, 2.0, help="Tone length divisor."),
        ParamSpec("pitch_hz", float, 440.0, 50.0, 2000.0, help="Frequency of the tone."),
    ),
    clones=True,
    streams=True,
    commercial_use=True,
    licence="test only",
)
