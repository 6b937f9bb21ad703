"""XttsEngine on a tiny random-weight checkpoint: loading, conditioning, batched synthesis.

Random weights make noise, not speech, and rarely emit the stop token, so most tests fix the
number of generated tokens (max_new_tokens); shapes, lengths and equalities are real.
"""

from __future__ import annotations

import io
import math
import shutil

import numpy as np
import pytest
import torch

from synthesis.engines.base import Conditioning, EngineUnavailable, SynthesisParams
from synthesis.engines.xtts.engine import XttsEngine, language_unavailable_reason

TEXTS = [
    "Hello world.",
    "A second, much longer sentence, so that the batch needs left padding.",
    "Third one.",
]
TOKENS = 24
OUT_RATE, GPT_RATE, TOKEN_SAMPLES = 24000, 22050, 1024


def samples_for(tokens: int, *, speed: float = 1.0) -> int:
    """Output length of `tokens` latents: coqui's interpolations (floor) times the 256 hop."""
    stretched = math.floor(tokens / speed) if speed != 1.0 else tokens
    return math.floor(stretched * 4 * OUT_RATE / GPT_RATE) * 256


def run(engine, texts, voice, **params):
    return list(
        engine.synthesize(
            texts=texts, language="en", conditioning=voice, params=SynthesisParams(**params)
        )
    )


# -- loading ---------------------------------------------------------------------------------


def test_missing_directory_is_unavailable_with_the_fix(tmp_path):
    engine = XttsEngine(tmp_path / "nowhere", device="cpu")
    with pytest.raises(EngineUnavailable) as caught:
        engine.load()
    assert "does not exist" in caught.value.reason
    assert "XTTS_MODEL_DIR" in caught.value.fix
    assert "XTTS_ACCEPT_LICENSE=1" in caught.value.fix
    status = engine.status()
    assert not status.ready
    assert (status.reason, status.fix) == (caught.value.reason, caught.value.fix)


def test_incomplete_directory_names_the_missing_files(tmp_path, xtts_tiny_checkpoint):
    shutil.copy(xtts_tiny_checkpoint / "config.json", tmp_path / "config.json")
    with pytest.raises(EngineUnavailable, match=r"lacks model\.pth, vocab\.json"):
        XttsEngine(tmp_path, device="cpu").load()


def test_no_model_and_no_licence_is_unavailable_and_downloads_nothing(monkeypatch):
    monkeypatch.delenv("COQUI_TOS_AGREED", raising=False)
    engine = XttsEngine(None, device="cpu")
    with pytest.raises(EngineUnavailable, match="No XTTS model is configured") as caught:
        engine.load()
    assert "Coqui Public Model License" in caught.value.fix
    assert "COQUI_TOS_AGREED" not in __import__("os").environ


def test_licence_without_download_dir_is_unavailable():
    with pytest.raises(EngineUnavailable, match="no download directory"):
        XttsEngine(None, accept_license=True, device="cpu").load()


def test_corrupt_checkpoint_is_unavailable_not_a_crash(tmp_path, xtts_tiny_checkpoint):
    for name in ("config.json", "vocab.json"):
        shutil.copy(xtts_tiny_checkpoint / name, tmp_path / name)
    (tmp_path / "model.pth").write_bytes(b"not a checkpoint")
    with pytest.raises(EngineUnavailable, match="Loading the XTTS checkpoint"):
        XttsEngine(tmp_path, device="cpu").load()


def test_forcing_cuda_without_cuda_is_unavailable(xtts_tiny_checkpoint):
    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    with pytest.raises(EngineUnavailable, match="no CUDA device") as caught:
        XttsEngine(xtts_tiny_checkpoint, device="cuda").load()
    assert "TIMBRE_DEVICE" in caught.value.fix


def test_loaded_status(xtts_engine):
    status = xtts_engine.status()
    assert status.ready and status.device == "cpu" and status.reason == ""
    assert status.model_version.startswith("xtts-v2-")
    assert 0 < status.load_seconds < 120
    xtts_engine.load()  # a second load is a no-op
    assert xtts_engine.status().load_seconds == status.load_seconds


def test_model_version_follows_content_not_location(tmp_path, xtts_engine, xtts_tiny_checkpoint):
    from synthesis.engines.xtts.loading import model_version

    copy = shutil.copytree(xtts_tiny_checkpoint, tmp_path / "copy")
    assert model_version(copy) == xtts_engine.model_version
    config = (copy / "config.json").read_text().replace('"top_k": 50', '"top_k": 51')
    (copy / "config.json").write_text(config)
    assert model_version(copy) != xtts_engine.model_version


def test_languages_and_char_limits(xtts_engine):
    assert len(xtts_engine.languages) == 17
    assert {"en", "zh-cn", "ja", "ko", "hi"} <= set(xtts_engine.languages)
    assert xtts_engine.char_limit("en") == 250
    assert xtts_engine.char_limit("zh-cn") == 82
    assert xtts_engine.char_limit("pt-BR") == 203
    assert xtts_engine.sample_rate == 24000
    with pytest.raises(ValueError, match="does not speak"):
        xtts_engine.char_limit("xx")


# -- conditioning ----------------------------------------------------------------------------


def test_conditioning_shapes_follow_the_checkpoint(voice, xtts_engine):
    assert voice.engine == "xtts"
    assert voice.engine_version == xtts_engine.model_version
    assert voice.arrays["gpt_cond_latent"].shape == (1, 32, 64)  # [1, 32, 1024] when full size
    assert voice.arrays["speaker_embedding"].shape == (1, 512, 1)
    assert voice.arrays["gpt_cond_latent"].dtype == np.float32
    assert voice.params["gpt_cond_len"] == 30
    assert voice.params["sample_count"] == 1


def test_conditioning_from_several_samples_and_npz_round_trip(
    xtts_engine, reference_wav, second_reference_wav
):
    two = xtts_engine.compute_conditioning(wav_paths=[reference_wav, second_reference_wav])
    assert two.params["sample_count"] == 2
    data = two.to_npz_bytes()
    np.load(io.BytesIO(data), allow_pickle=False).close()
    back = Conditioning.from_npz_bytes(data)
    for name in ("gpt_cond_latent", "speaker_embedding"):
        np.testing.assert_array_equal(back.arrays[name], two.arrays[name])
    # The stored voice synthesizes exactly like the live one.
    live = run(xtts_engine, ["hi"], two, seed=1, max_new_tokens=8)[0]
    stored = run(xtts_engine, ["hi"], back, seed=1, max_new_tokens=8)[0]
    np.testing.assert_array_equal(live, stored)


def test_conditioning_refuses_missing_or_too_short_samples(xtts_engine, tmp_path):
    from tests.synthesis.engines.conftest import write_reference_wav

    with pytest.raises(FileNotFoundError):
        xtts_engine.compute_conditioning(wav_paths=[tmp_path / "missing.wav"])
    with pytest.raises(ValueError, match="at least one"):
        xtts_engine.compute_conditioning(wav_paths=[])
    short = write_reference_wav(tmp_path / "short.wav", seconds=0.2)
    with pytest.raises(ValueError, match="too short"):
        xtts_engine.compute_conditioning(wav_paths=[short])


def test_conditioning_of_another_width_is_refused(xtts_engine, voice):
    wide = Conditioning(
        engine="xtts",
        engine_version=voice.engine_version,
        arrays={
            "gpt_cond_latent": np.zeros((1, 32, 1024), np.float32),
            "speaker_embedding": voice.arrays["speaker_embedding"],
        },
    )
    with pytest.raises(ValueError, match="this model needs"):
        run(xtts_engine, ["hi"], wide, max_new_tokens=4)


# -- synthesis -------------------------------------------------------------------------------


def test_max_new_tokens_fixes_the_length(xtts_engine, voice):
    for tokens in (8, TOKENS):
        (wav,) = run(xtts_engine, ["Hello world."], voice, seed=3, max_new_tokens=tokens)
        assert wav.dtype == np.float32 and wav.ndim == 1
        assert len(wav) == samples_for(tokens)
        # n tokens are n * 1024 samples at 22.05 kHz, resampled to 24 kHz (to one 256 hop).
        assert abs(len(wav) - tokens * TOKEN_SAMPLES * OUT_RATE / GPT_RATE) < 256
        assert np.all(np.isfinite(wav)) and np.abs(wav).max() <= 1.0
        assert np.abs(wav).max() > 0


def test_batched_output_equals_each_text_alone(xtts_engine, voice):
    batched = run(xtts_engine, TEXTS, voice, seed=11, max_new_tokens=TOKENS)
    assert [len(wav) for wav in batched] == [samples_for(TOKENS)] * 3
    for index, text in enumerate(TEXTS):
        # Text i of a request samples with seed + i, whatever the batch.
        (alone,) = run(xtts_engine, [text], voice, seed=11 + index, max_new_tokens=TOKENS)
        np.testing.assert_allclose(batched[index], alone, atol=1e-5)


def test_batch_size_does_not_change_the_audio(xtts_engine, voice, monkeypatch):
    from synthesis.engines.xtts import engine as xtts_module

    real = xtts_module.BatchGeneration.run
    sizes = []

    def recording_run(self):
        sizes.append(len(self.results))
        return real(self)

    monkeypatch.setattr(xtts_module.BatchGeneration, "run", recording_run)
    texts = [*TEXTS, "Four.", "Five is here."]
    one_batch = run(xtts_engine, texts, voice, seed=5, max_new_tokens=12)
    monkeypatch.setattr(xtts_engine, "batch_limit", 2)
    in_pairs = run(xtts_engine, texts, voice, seed=5, max_new_tokens=12)
    assert sizes == [5, 2, 2, 1]
    for a, b in zip(one_batch, in_pairs, strict=True):
        np.testing.assert_allclose(a, b, atol=1e-5)


def test_same_seed_same_audio_other_seed_other_audio(xtts_engine, voice):
    first = run(xtts_engine, TEXTS[:2], voice, seed=7, max_new_tokens=TOKENS)
    again = run(xtts_engine, TEXTS[:2], voice, seed=7, max_new_tokens=TOKENS)
    other = run(xtts_engine, TEXTS[:2], voice, seed=8, max_new_tokens=TOKENS)
    for a, b in zip(first, again, strict=True):
        np.testing.assert_array_equal(a, b)
    assert not np.allclose(first[0], other[0])


def test_without_a_fixed_length_generation_stops_by_itself(xtts_engine, voice):
    cap = xtts_engine.model.gpt.max_gen_mel_tokens
    (wav,) = run(xtts_engine, ["One."], voice, seed=2)
    # Random weights rarely pick the stop token, so this usually runs to the cap.
    assert 0 < len(wav) <= samples_for(cap + 1)


def test_speed_two_halves_the_duration(xtts_engine, voice):
    (normal,) = run(xtts_engine, ["Hello."], voice, seed=1, max_new_tokens=TOKENS)
    (fast,) = run(xtts_engine, ["Hello."], voice, seed=1, max_new_tokens=TOKENS, speed=2.0)
    (slow,) = run(xtts_engine, ["Hello."], voice, seed=1, max_new_tokens=TOKENS, speed=0.5)
    assert len(fast) == samples_for(TOKENS, speed=2.0)
    assert len(fast) / len(normal) == pytest.approx(0.5, abs=0.02)
    assert len(slow) / len(normal) == pytest.approx(2.0, abs=0.02)


def test_matches_coqui_stock_inference_for_the_same_seed(xtts_engine, voice):
    params = SynthesisParams(seed=21, max_new_tokens=TOKENS)
    (ours,) = xtts_engine.synthesize(
        texts=[TEXTS[1]], language="en", conditioning=voice, params=params
    )
    stock = xtts_engine.stock_inference(
        text=TEXTS[1], language="en", conditioning=voice, params=params
    )
    assert stock.shape == ours.shape == (samples_for(TOKENS),)
    np.testing.assert_allclose(ours, stock, atol=1e-5)


def test_cuda_out_of_memory_halves_the_batch_and_keeps_order(xtts_engine, voice, monkeypatch):
    from synthesis.engines.xtts import engine as xtts_module

    real = xtts_module.BatchGeneration.run
    sizes = []

    def run_or_oom(self):
        sizes.append(len(self.results))
        if len(self.results) > 1:
            raise torch.OutOfMemoryError("simulated")
        return real(self)

    texts = ["One.", "Two two.", "Three three three."]
    expected = run(xtts_engine, texts, voice, seed=4, max_new_tokens=8)
    monkeypatch.setattr(xtts_module.BatchGeneration, "run", run_or_oom)
    monkeypatch.setattr(xtts_engine, "batch_limit", 3)
    got = run(xtts_engine, texts, voice, seed=4, max_new_tokens=8)
    assert sizes == [3, 1, 2, 1, 1]
    for a, b in zip(expected, got, strict=True):
        np.testing.assert_allclose(a, b, atol=1e-5)
    # Later requests start from the size that fitted.
    assert xtts_engine.batch_limit == 1
    sizes.clear()
    run(xtts_engine, texts[:2], voice, seed=4, max_new_tokens=4)
    assert sizes == [1, 1]


def test_out_of_memory_on_a_single_text_is_a_clear_error(xtts_engine, voice, monkeypatch):
    from synthesis.engines.xtts import engine as xtts_module

    def always_oom(self):
        raise torch.OutOfMemoryError("simulated")

    monkeypatch.setattr(xtts_module.BatchGeneration, "run", always_oom)
    with pytest.raises(RuntimeError, match="out of GPU memory generating one text chunk"):
        run(xtts_engine, ["One."], voice, max_new_tokens=4)


def test_bad_requests_are_refused_clearly(xtts_engine, voice):
    with pytest.raises(ValueError, match="speed must be between"):
        run(xtts_engine, ["Hi."], voice, speed=9.0)
    with pytest.raises(ValueError, match="does not speak"):
        xtts_engine.synthesize(
            texts=["Hi."], language="xx", conditioning=voice, params=SynthesisParams()
        ).__next__()
    with pytest.raises(ValueError, match="fewer than 402"):
        run(xtts_engine, ["word " * 400], voice, max_new_tokens=4)
    with pytest.raises(ValueError, match="max_new_tokens must be at most 117"):
        run(xtts_engine, ["Hi."], voice, max_new_tokens=500)
    with pytest.raises(ValueError, match="empty text"):
        run(xtts_engine, ["Fine.", "   "], voice, max_new_tokens=4)
    bad_speaker = {**voice.arrays, "speaker_embedding": np.zeros((1, 256, 1), np.float32)}
    with pytest.raises(ValueError, match=r"needs \[1, 512, 1\]"):
        run(xtts_engine, ["Hi."], Conditioning("xtts", "v", arrays=bad_speaker), max_new_tokens=4)
    piper = Conditioning(engine="piper", engine_version="1", arrays=dict(voice.arrays))
    with pytest.raises(ValueError, match="not xtts"):
        run(xtts_engine, ["Hi."], piper, max_new_tokens=4)


def test_languages_needing_missing_front_ends_say_what_to_install(xtts_engine, voice):
    reason = language_unavailable_reason("ja")
    if reason is None:
        pytest.skip("cutlet is installed here")
    assert "cutlet" in reason and "pip install" in reason
    with pytest.raises(ValueError, match="cutlet"):
        xtts_engine.synthesize(
            texts=["こんにちは"], language="ja", conditioning=voice, params=SynthesisParams()
        ).__next__()
    assert language_unavailable_reason("en") is None
    assert language_unavailable_reason("ko") is None  # romanised by a coqui dependency


def test_several_languages_synthesize(xtts_engine, voice):
    for language, text in [("de", "Grüße!"), ("fr", "Ça va."), ("es", "¿Qué?"), ("ru", "Да.")]:
        (wav,) = xtts_engine.synthesize(
            texts=[text],
            language=language,
            conditioning=voice,
            params=SynthesisParams(seed=1, max_new_tokens=4),
        )
        assert len(wav) == samples_for(4)
