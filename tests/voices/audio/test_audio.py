"""Audio intake on a real corpus: every accepted container, every refusal, the quality report.

Pure functions, no database: runs with or without the Django plugin.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import pyloudnorm
import pytest
import soundfile as sf

from tests.voices.corpus import cached_corpus
from voices.audio.intake import (
    INTAKE_ERROR_CODES,
    OUTPUT_SAMPLE_RATE,
    IntakeError,
    clean,
    intake,
    probe,
    transcode,
)
from voices.audio.quality import limit_peaks

MAX_BYTES = 50_000_000

# corpus name -> the codec the probe must report
ACCEPTED = {
    "wav": "pcm_s16le",
    "mp3": "mp3",
    "mp3_cover_art": "mp3",
    "flac": "flac",
    "m4a": "aac",
    "aac_adts": "aac",
    "ogg_vorbis": "vorbis",
    "ogg_opus": "opus",
    "webm_opus": "opus",
    "webm_stream": "opus",
}

REFUSED = {
    "text_as_wav": "not_audio",
    "empty": "not_audio",
    "aiff": "not_audio",
    "truncated_wav": "corrupt",
    "truncated_mp3": "corrupt",
    "truncated_few_bytes": "corrupt",
    "truncated_m4a": "corrupt",
    "silence_hour_opus": "too_long",
    "silence_hour_mp3": "too_long",
    "silence_hour_webm_stream": "too_long",
    "video_mp4": "not_single_audio_stream",
    "video_webm": "not_single_audio_stream",
    "two_audio_tracks": "not_single_audio_stream",
    "video_only_mkv": "no_audio_stream",
    "ac3_mka": "unsupported_codec",
    "eight_channels": "too_many_channels",
    "rate_192k": "sample_rate_too_high",
    "short_speech": "too_little_speech",
}


@pytest.fixture(scope="session")
def corpus(tmp_path_factory) -> dict[str, Path]:
    return cached_corpus(tmp_path_factory.getbasetemp() / "voices-corpus")


def lufs(path: Path) -> float:
    audio, rate = sf.read(path, dtype="float64")
    return pyloudnorm.Meter(rate).integrated_loudness(audio)


def run_intake(corpus, name: str, tmp_path: Path, **kwargs):
    return intake(corpus[name], tmp_path / name, max_bytes=MAX_BYTES, **kwargs)


@pytest.mark.parametrize("name", sorted(ACCEPTED))
def test_accepted_container_becomes_clean_mono_wav(corpus, name, tmp_path):
    result = run_intake(corpus, name, tmp_path)

    info = sf.info(result.clean_wav_path)
    assert (info.channels, info.samplerate, info.subtype) == (1, OUTPUT_SAMPLE_RATE, "PCM_16")
    assert not (tmp_path / name / "decoded.wav").exists()
    report = result.report
    assert report.codec_in == ACCEPTED[name] == result.probe.codec
    assert 6.0 <= report.speech_seconds <= report.duration_seconds
    assert 14.0 < report.duration_seconds < 22.0  # the corpus takes are 16-20 s
    assert 0.5 < report.speech_ratio < 1.0
    assert report.clipping_ratio == 0.0
    assert report.snr_db > 30 and report.noise_floor_db < -55
    assert -30 < report.loudness_lufs < -15
    assert report.ok, report.advice
    # The 0.8 s lead-in, 2 s pause and 1.5 s tail are cut down.
    assert any("long silences were removed" in line for line in report.advice)
    assert report.clean_seconds < report.duration_seconds - 2.5
    assert info.duration == pytest.approx(report.clean_seconds, abs=0.01)
    assert lufs(result.clean_wav_path) == pytest.approx(-23.0, abs=1.0)
    json.dumps(report.to_dict(), allow_nan=False)


def test_browser_webm_without_header_duration_is_measured(corpus, tmp_path):
    found = probe(corpus["webm_stream"], max_bytes=MAX_BYTES)
    assert not found.duration_from_header
    assert found.duration_seconds == pytest.approx(18.4, abs=0.3)
    assert found.demuxer == "matroska"


def test_cover_art_is_not_a_video_stream(corpus):
    found = probe(corpus["mp3_cover_art"], max_bytes=MAX_BYTES)
    assert (found.audio_streams, found.video_streams) == (1, 0)


@pytest.mark.parametrize(("name", "code"), sorted(REFUSED.items()))
def test_bad_input_is_refused_with_its_code(corpus, name, code, tmp_path):
    with pytest.raises(IntakeError) as caught:
        run_intake(corpus, name, tmp_path)
    assert caught.value.code == code
    assert code in INTAKE_ERROR_CODES
    assert len(caught.value.message) > 10
    assert not list((tmp_path / name).glob("*.wav*"))  # no half-written output left behind


@pytest.mark.parametrize(
    "name", ["silence_hour_opus", "silence_hour_mp3", "silence_hour_webm_stream"]
)
def test_hour_of_silence_is_refused_without_decoding_it(corpus, name, tmp_path):
    started = time.monotonic()
    with pytest.raises(IntakeError) as caught:
        run_intake(corpus, name, tmp_path)
    elapsed = time.monotonic() - started
    assert caught.value.code == "too_long"
    assert elapsed < 5.0, f"{name} took {elapsed:.1f} s"


def test_too_little_speech_says_how_much_was_found(corpus, tmp_path):
    with pytest.raises(IntakeError) as caught:
        run_intake(corpus, "short_speech", tmp_path)
    assert caught.value.message.startswith("We found ")
    found = float(caught.value.message.split()[2])
    assert 2.0 < found < 4.0
    assert "at least 10 s" in caught.value.message


def test_speech_under_ten_seconds_is_accepted_with_advice(corpus, tmp_path):
    report = clean(corpus["short_speech"], tmp_path / "clean.wav", min_speech_seconds=2.0)
    assert 2.0 < report.speech_seconds < 4.0
    assert any(line.startswith("record at least 10 s of speech") for line in report.advice)
    assert not report.ok
    assert (report.sample_rate_in, report.channels_in, report.codec_in) == (22_050, 1, "pcm_s16le")


def test_file_over_the_byte_limit_is_refused_before_probing(corpus, tmp_path):
    with pytest.raises(IntakeError) as caught:
        intake(corpus["wav"], tmp_path, max_bytes=1_000_000)
    assert caught.value.code == "too_large"


def test_concat_playlist_cannot_make_ffmpeg_read_other_files(corpus, tmp_path):
    playlist = tmp_path / "playlist.wav"
    playlist.write_text(f"ffconcat version 1.0\nfile '{corpus['wav']}'\n")
    with pytest.raises(IntakeError) as caught:
        probe(playlist, max_bytes=MAX_BYTES)
    assert caught.value.code == "not_audio"


def test_transcode_refuses_audio_running_past_the_cap(corpus, tmp_path):
    # As if a header had said "short": the decode stops at max_seconds + 1 and says too_long.
    out = tmp_path / "out.wav"
    with pytest.raises(IntakeError) as caught:
        transcode(corpus["flac"], out, max_seconds=5)
    assert caught.value.code == "too_long"
    assert not out.exists() and not list(tmp_path.iterdir())


def test_transcode_runs_under_a_memory_limit(corpus, tmp_path):
    # 16 MB of address space is too little for ffmpeg even to start: the rlimit is really applied.
    with pytest.raises(IntakeError) as caught:
        transcode(corpus["mp3"], tmp_path / "out.wav", max_seconds=300, mem_limit_mb=16)
    assert caught.value.code == "corrupt"
    assert "error while loading shared libraries" in caught.value.detail  # for the log


def test_transcode_writes_mono_pcm_at_22050(corpus, tmp_path):
    seconds = transcode(corpus["m4a"], tmp_path / "out.wav", max_seconds=300)
    info = sf.info(tmp_path / "out.wav")
    assert (info.channels, info.samplerate, info.subtype) == (1, 22_050, "PCM_16")
    assert seconds == pytest.approx(20.1, abs=0.2)


def test_clipping_is_detected_and_not_passed_on(corpus, tmp_path):
    report = run_intake(corpus, "clipped", tmp_path).report
    assert report.clipping_ratio > 0.01
    assert report.peak_dbfs == 0.0
    assert not report.ok
    assert any(
        line.startswith("clipping") and "lower the input gain" in line for line in report.advice
    )
    cleaned, _ = sf.read(tmp_path / "clipped" / "clean.wav", dtype="float32")
    assert np.abs(cleaned).max() <= 10 ** (-1 / 20) + 1e-4


def test_quiet_input_gets_advice_and_is_normalised(corpus, tmp_path):
    result = run_intake(corpus, "quiet", tmp_path)
    report = result.report
    assert report.loudness_lufs < -45
    assert any(line.startswith("too quiet") for line in report.advice)
    assert not report.ok
    assert lufs(result.clean_wav_path) == pytest.approx(-23.0, abs=1.0)
    assert report.output_lufs == pytest.approx(-23.0, abs=1.0)


def test_noisy_input_gets_advice_and_denoise_quietens_the_pauses(corpus, tmp_path):
    plain = run_intake(corpus, "noisy", tmp_path / "plain")
    denoised = run_intake(corpus, "noisy", tmp_path / "denoised", denoise=True)
    assert plain.report.snr_db < 20
    assert any(line.startswith("background noise") for line in plain.report.advice)
    assert denoised.report.denoised

    def quietest_frames_db(path: Path) -> float:
        audio, _ = sf.read(path, dtype="float64")
        frames = audio[: audio.size // 441 * 441].reshape(-1, 441)
        return 10 * np.log10(np.percentile((frames**2).mean(axis=1), 10))

    gain = quietest_frames_db(plain.clean_wav_path) - quietest_frames_db(denoised.clean_wav_path)
    assert gain > 6.0, f"noise reduction lowered the quiet frames by only {gain:.1f} dB"


def test_limiter_never_exceeds_its_ceiling():
    rng = np.random.default_rng(3)
    audio = (rng.standard_normal(22_050) * 0.2).astype(np.float32)
    audio[::997] = 3.0  # spikes far above full scale
    limited = limit_peaks(audio, 22_050, ceiling_db=-1.0)
    assert np.abs(limited).max() <= 10 ** (-1 / 20) + 1e-6
    # More than 20 ms away from any spike the limiter leaves the signal untouched.
    near_spike = np.zeros(audio.size, dtype=bool)
    for index in np.flatnonzero(np.abs(audio) > 1.0):
        near_spike[max(0, index - 441) : index + 441] = True
    assert (~near_spike).sum() > 2_000
    np.testing.assert_array_equal(limited[~near_spike], audio[~near_spike])
