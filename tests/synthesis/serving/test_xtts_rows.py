"""Cross-voice XTTS batches (tiny random-weight checkpoint, CPU): a row's audio does not
depend on the rows that share its GPT pass, whatever their voice, language or settings.

Equality is exact for the sampled tokens; the audio agrees to float32 rounding (about
2e-8 here), because a matrix product over B rows does not round exactly as over one row.
That is the engine's own guarantee within a job (tests/synthesis/engines/xtts).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from synthesis.engines.base import job_rows
from synthesis.engines.xtts import FACTS as XTTS
from synthesis.engines.xtts.continuous import ContinuousGeneration
from synthesis.engines.xtts.generation import BatchGeneration
from synthesis.engines.xtts.rows import prepare_row
from synthesis.serving.scheduler import Scheduler
from tests.synthesis.engines.conftest import write_reference_wav

ATOL = 1e-5


@pytest.fixture(scope="module")
def engine(xtts_tiny_dir):
    from synthesis.engines.xtts.engine import XttsEngine

    engine = XttsEngine(xtts_tiny_dir, device="cpu", max_batch_size=8)
    engine.load()
    return engine


@pytest.fixture(scope="module")
def voices(engine, tmp_path_factory):
    folder = tmp_path_factory.mktemp("voices")
    one = write_reference_wav(folder / "one.wav", seconds=5.0)
    two = write_reference_wav(folder / "two.wav", seconds=4.0, sample_rate=44100, seed=1)
    return [engine.compute_conditioning(wav_paths=[path]) for path in (one, two)]


def two_jobs(voices):
    """Two jobs of two voices, languages and sampling settings (fixed lengths: random
    weights seldom stop on their own)."""
    first = job_rows(
        ["Hello world.", "A much longer second sentence, for left padding."],
        language="en",
        conditioning=voices[0],
        params=XTTS.params_checked({"seed": 3, "max_new_tokens": 12}),
    )
    second = job_rows(
        ["Hola mundo, ¿qué tal?", "Otra."],
        language="es",
        conditioning=voices[1],
        params=XTTS.params_checked(
            {"seed": 9, "max_new_tokens": 16, "temperature": 0.5, "top_k": 10, "top_p": 0.7}
        ),
    )
    return first, second


def test_one_gpt_pass_of_two_voices_makes_each_rows_own_tokens(engine, voices):
    rows = [row for job in two_jobs(voices) for row in job]
    voice_tensors: dict = {}
    prepared = [prepare_row(engine, row, voice_tensors) for row in rows]

    def generate(items):
        return BatchGeneration(
            gpt=engine.model.gpt,
            cond_latent=[p.latent for p in items],
            text_tokens=[p.tokens for p in items],
            seeds=[p.seed for p in items],
            settings=[p.settings for p in items],
        ).run()

    together = generate(prepared)
    assert len({id(p.latent) for p in prepared}) == 2
    for item, result in zip(prepared, together, strict=True):
        (alone,) = generate([item])
        assert result.codes == alone.codes
        assert len(result.codes) == item.settings.fixed_tokens
        torch.testing.assert_close(
            torch.stack(result.latents), torch.stack(alone.latents), atol=ATOL, rtol=0
        )


def test_rows_joining_a_running_batch_make_the_tokens_they_make_alone(engine, voices):
    rows = [row for job in two_jobs(voices) for row in job]
    voice_tensors: dict = {}
    prepared = [prepare_row(engine, row, voice_tensors) for row in rows]
    batch = ContinuousGeneration(gpt=engine.model.gpt, device=engine.device)

    def admit(index):
        item = prepared[index]
        batch.admit(
            index,
            cond_latent=item.latent,
            text_tokens=item.tokens,
            seed=item.seed,
            settings=item.settings,
        )

    done, sizes = {}, []
    admit(0)
    for step in range(40):
        if step == 3:  # join mid-run: other voice, language, settings, longer prefix
            admit(1)
            admit(2)
        if 0 in done and step == 12:
            admit(3)  # row 0 ended at the last step: its slot is taken at once
        sizes.append(len(batch))
        done.update(batch.step())
        if not len(batch) and len(done) == 4:
            break
    # Row 0 makes 12 tokens (steps 0-11); rows 1, 2 join at step 3; row 3 takes row 0's slot.
    assert sizes[:4] == [1, 1, 1, 3] and sizes[11:13] == [3, 3]
    for index, item in enumerate(prepared):
        (alone,) = BatchGeneration(
            gpt=engine.model.gpt,
            cond_latent=item.latent,
            text_tokens=[item.tokens],
            seeds=[item.seed],
            settings=item.settings,
        ).run()
        assert done[index].codes == alone.codes
        torch.testing.assert_close(
            torch.stack(done[index].latents), torch.stack(alone.latents), atol=ATOL, rtol=0
        )


def test_a_dropped_row_leaves_and_the_others_are_unchanged(engine, voices):
    rows = [row for job in two_jobs(voices) for row in job][:3]
    stepper = engine.row_stepper()
    for index, row in enumerate(rows):
        stepper.admit(index, row)
    done = dict(stepper.step())
    stepper.drop({1})
    while len(stepper):
        done.update(stepper.step())
    assert sorted(done) == [0, 2]
    for index in (0, 2):
        ((_, alone),) = engine.synthesize_rows([rows[index]])
        np.testing.assert_allclose(done[index], alone, atol=ATOL, rtol=0)


def test_synthesize_rows_equals_each_row_alone(engine, voices):
    first, second = two_jobs(voices)
    rows = [first[0], second[0], first[1], second[1]]
    batched = dict(engine.synthesize_rows(rows))
    assert sorted(batched) == [0, 1, 2, 3]
    for index, row in enumerate(rows):
        ((_, alone),) = engine.synthesize_rows([row])
        assert batched[index].shape == alone.shape
        np.testing.assert_allclose(batched[index], alone, atol=ATOL, rtol=0)


def test_a_bad_row_is_refused_before_any_generation(engine, voices):
    first, _ = two_jobs(voices)
    bad = job_rows(["   "], language="en", conditioning=voices[0], params=first[0].params)
    with pytest.raises(ValueError, match="empty text"):
        list(engine.synthesize_rows([first[0], *bad]))


def test_the_scheduler_batches_two_users_xtts_jobs_and_matches_unbatched(engine, voices):
    """Through XTTS's continuous batch (its row stepper): one GPT step serves both users."""
    first, second = two_jobs(voices)
    scheduler = Scheduler(engine)
    handles = [
        scheduler.submit("job-1", "user-1", first),
        scheduler.submit("job-2", "user-2", second, stream=True),
    ]
    scheduler.start()
    try:
        outputs = [list(handle) for handle in handles]
    finally:
        scheduler.close()
    assert scheduler.steps[0]["users"] == 2 and scheduler.steps[0]["rows"] == 4
    for job, output in zip((first, second), outputs, strict=True):
        own = engine.synthesize(
            texts=[row.text for row in job],
            language=job[0].language,
            conditioning=job[0].conditioning,
            params=job[0].params,
        )
        for audio, alone in zip(output, own, strict=True):
            np.testing.assert_allclose(audio, alone, atol=ATOL, rtol=0)
    assert scheduler.stats()["audio_seconds"] > 0
