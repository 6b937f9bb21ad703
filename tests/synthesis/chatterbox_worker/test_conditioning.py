"""A voice's Chatterbox conditioning, computed once by the Chatterbox worker: stored as .npz,
read back and written again bit-for-bit, equal to what the engine computes in this process from
the same clean sample, and only read (never recomputed) by the jobs that speak with it."""

from __future__ import annotations

import numpy as np
import pytest
from django.core.files.storage import default_storage

from audit.models import AuditEvent
from synthesis.engines.base import Conditioning
from tests.synthesis.chatterbox_worker.conftest import make_job
from tests.synthesis.support import wait_job
from voices.services.conditioning import conditioning_load

pytestmark = [pytest.mark.worker, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

ARRAYS = {
    "t3.speaker_emb",
    "t3.cond_prompt_speech_tokens",
    "gen.prompt_token",
    "gen.prompt_token_len",
    "gen.prompt_feat",
    "gen.embedding",
}


def assert_same_arrays(left: Conditioning, right: Conditioning) -> None:
    assert set(left.arrays) == set(right.arrays)
    for name, array in left.arrays.items():
        other = right.arrays[name]
        assert (array.dtype, array.shape) == (other.dtype, other.shape), name
        assert array.tobytes() == other.tobytes(), name


def test_conditioning_is_stored_once_and_reloads_bit_for_bit(
    owner, cb_voice, chatterbox_tiny_dir, tmp_path
):
    assert (cb_voice.engine, cb_voice.conditioning.name[-4:]) == ("chatterbox", ".npz")
    stored_name = cb_voice.conditioning.name
    stored = default_storage.open(stored_name).read()

    loaded = conditioning_load(cb_voice, "chatterbox")
    assert (loaded.engine, loaded.engine_version) == ("chatterbox", cb_voice.conditioning_version)
    assert set(loaded.arrays) == ARRAYS  # S3Gen leaves prompt_feat_len unset: recorded absent
    assert loaded.params["absent"] == ["gen.prompt_feat_len"]
    assert loaded.arrays["t3.cond_prompt_speech_tokens"].dtype.kind == "i"
    assert loaded.arrays["gen.prompt_feat"].dtype == np.float32
    again = loaded.to_npz_bytes()
    assert again == stored  # re-serialised: the same bytes
    assert_same_arrays(loaded, Conditioning.from_npz_bytes(again))

    # Two jobs speak with it meanwhile (queued first: the worker runs them while this process
    # loads the engine below).
    jobs = [
        make_job(owner, cb_voice, text, output_format="wav")
        for text in ("Spoken with the stored voice.", "And spoken with it again.")
    ]

    # The same computation in this process, from the same clean sample, gives the same arrays:
    # the build has no sampling (VE, the S3 tokenizer, CAMPPlus). Token ids match exactly; float
    # arrays to rounding only (the last bits of a float reduction depend on the process's torch
    # thread count, which the test process and the worker need not share).
    from synthesis.engines.chatterbox.engine import ChatterboxEngine

    sample = cb_voice.samples.get()
    local = tmp_path / "clean.wav"
    local.write_bytes(default_storage.open(sample.clean.name).read())
    engine = ChatterboxEngine(chatterbox_tiny_dir, device="cpu")
    engine.load()
    computed = engine.compute_conditioning(wav_paths=[local])
    assert computed.engine_version == loaded.engine_version
    assert set(computed.arrays) == set(loaded.arrays)
    for name, array in computed.arrays.items():
        other = loaded.arrays[name]
        assert (array.dtype, array.shape) == (other.dtype, other.shape), name
        if array.dtype.kind == "f":
            np.testing.assert_allclose(array, other, rtol=1e-4, atol=1e-5, err_msg=name)
        else:
            assert array.tobytes() == other.tobytes(), name

    # The jobs read it; none recomputed it.
    for job in jobs:
        job = wait_job(job)
        assert (job.status, job.engine) == ("succeeded", "chatterbox"), job.error
    cb_voice.refresh_from_db()
    assert cb_voice.conditioning.name == stored_name
    assert default_storage.open(stored_name).read() == stored
    built = AuditEvent.objects.filter(action="voices.voice.built", target_id=str(cb_voice.code))
    assert built.count() == 1 and built.get().data["engine"] == "chatterbox"
