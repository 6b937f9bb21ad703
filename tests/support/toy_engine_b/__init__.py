"""A second test-only cloning engine, beside tests/support/toy_engine: one voice built for both
proves that the request, not the voice, chooses the engine that speaks.

It differs from the first toy in everything a request is checked against: 22,050 Hz, English
and French (not Esperanto), and a `buzz_hz` parameter instead of `pitch_hz`. Its output is a
square wave, and its conditioning counts how often it was computed (`computed` in the params),
so a test can tell a stored conditioning from a recomputed one.
"""

from synthesis.engines.facts import EngineFacts, ParamSpec

FACTS = EngineFacts(
    name="toyb",
    label="Toy square",
    model_id="toy-b-1",
    engine_class="tests.support.toy_engine_b.engine:ToyEngineB",
    sample_rate=22_050,
    char_limits={"en": 50, "fr": 50},
    params=(
        ParamSpec("speed", float, 1.0, 0.5, 2.0, help="Tone length divisor."),
        ParamSpec("buzz_hz", float, 300.0, 60.0, 3000.0, help="Frequency of the square wave."),
    ),
    clones=True,
    streams=True,
    commercial_use=True,
    licence="test only",
)
