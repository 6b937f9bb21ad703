"""A test corpus for audio intake, made on the spot with espeak-ng, numpy and ffmpeg.

`build_corpus(directory)` writes every accepted container holding real (synthetic) speech, every
kind of bad input the intake must refuse, inputs with quality problems, and speaker-verification
clips, and returns {name: path}. Nothing is downloaded; everything is deterministic.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np
import soundfile as sf

RATE = 22_050  # espeak-ng's own output rate

TEXT_A1 = (
    "The quick brown fox jumps over the lazy dog, while the farmer watches quietly "
    "from the old wooden fence beside the barn."
)
TEXT_A2 = (
    "Every morning she walks along the river to the market, and buys fresh bread, "
    "green apples and a small jar of honey."
)
TEXT_B = (
    "Bright sunlight filled the kitchen as the children packed their bags for school. "
    "Their father reminded them to take umbrellas, because the radio said that heavy rain "
    "would arrive in the afternoon."
)
TEXT_DE1 = "Der Zug nach Berlin fährt heute pünktlich um acht Uhr vom alten Hauptbahnhof ab."
TEXT_DE2 = (
    "Viele Reisende warten schon auf dem Bahnsteig und trinken einen heißen Kaffee, "
    "während es draußen langsam hell wird."
)
TEXT_SHORT = "This little sample is far too short to clone anybody."

# espeak-ng voice, pitch (0-99) and speed (words per minute): several "people".
VOICES = {
    "m3": ("en+m3", 50, 175),
    "f3": ("en+f3", 60, 160),
    "us_slow": ("en-us", 35, 150),
    "de": ("de", 45, 165),
}


def _run(cmd: list[str], *, stdout=subprocess.PIPE) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, check=True, stdout=stdout, stderr=subprocess.PIPE, timeout=120)


def _ffmpeg(*args: str) -> None:
    _run(["ffmpeg", "-nostdin", "-hide_banner", "-v", "error", "-y", *args])


def speak(text: str, out: Path, *, voice: str) -> np.ndarray:
    """espeak-ng speech as float32 samples at RATE (and the WAV it wrote at `out`)."""
    name, pitch, speed = VOICES[voice]
    _run(["espeak-ng", "-v", name, "-p", str(pitch), "-s", str(speed), "-w", str(out), text])
    audio, rate = sf.read(out, dtype="float32")
    assert rate == RATE, rate
    return audio


def _silence(seconds: float) -> np.ndarray:
    return np.zeros(int(seconds * RATE), dtype=np.float32)


def _write(path: Path, audio: np.ndarray) -> Path:
    sf.write(path, np.clip(audio, -1.0, 1.0), RATE, subtype="PCM_16")
    return path


def recording(tmp: Path, *, voice: str, seed: int = 0) -> np.ndarray:
    """About 12 s of speech framed like a real take: lead-in, a 2 s pause, a tail, room hiss."""
    texts = (TEXT_DE1, TEXT_DE2) if voice == "de" else (TEXT_A1, TEXT_A2)
    first = speak(texts[0], tmp / f"{voice}-1.wav", voice=voice)
    second = speak(texts[1], tmp / f"{voice}-2.wav", voice=voice)
    audio = np.concatenate([_silence(0.8), first, _silence(2.0), second, _silence(1.5)])
    hiss = np.random.default_rng(seed).standard_normal(audio.size).astype(np.float32)
    return audio + hiss * 10 ** (-65 / 20)


# name: (master voice, file name, ffmpeg output options). Input is a 22,050 Hz mono WAV.
ACCEPTED = {
    "wav": ("m3", "speech.wav", ["-ar", "44100", "-ac", "2", "-c:a", "pcm_s16le"]),
    "mp3": ("f3", "speech.mp3", ["-ar", "44100", "-c:a", "libmp3lame", "-b:a", "96k"]),
    "flac": ("de", "speech.flac", ["-ar", "48000", "-sample_fmt", "s32", "-c:a", "flac"]),
    "m4a": ("us_slow", "speech.m4a", ["-ar", "44100", "-ac", "2", "-c:a", "aac", "-b:a", "96k"]),
    "aac_adts": ("m3", "speech.aac", ["-c:a", "aac", "-b:a", "64k", "-f", "adts"]),
    "ogg_vorbis": ("f3", "speech.ogg", ["-ar", "44100", "-c:a", "libvorbis", "-q:a", "3"]),
    "ogg_opus": ("de", "speech.opus", ["-ar", "48000", "-c:a", "libopus", "-b:a", "32k"]),
    "webm_opus": ("us_slow", "speech.webm", ["-ar", "48000", "-c:a", "libopus", "-f", "webm"]),
}


def build_accepted(root: Path, masters: dict[str, Path]) -> dict[str, Path]:
    files = {}
    for name, (voice, filename, options) in ACCEPTED.items():
        files[name] = root / filename
        _ffmpeg("-i", str(masters[voice]), *options, str(files[name]))
    # A browser MediaRecorder upload: WebM written as a stream, so no duration in its header.
    files["webm_stream"] = root / "recording-from-browser.webm"
    with files["webm_stream"].open("wb") as out:
        _run(
            ["ffmpeg", "-nostdin", "-v", "error", "-i", str(masters["f3"]), "-ar", "48000",
             "-c:a", "libopus", "-f", "webm", "pipe:1"],
            stdout=out,
        )  # fmt: skip
    # MP3 with album art: the picture is an attached_pic "video" stream that must be ignored.
    files["mp3_cover_art"] = root / "speech-cover.mp3"
    _ffmpeg(
        "-i", str(masters["m3"]), "-f", "lavfi", "-i", "color=c=red:s=64x64:d=1",
        "-map", "0:a", "-map", "1:v", "-frames:v", "1", "-c:a", "libmp3lame", "-c:v", "png",
        "-disposition:v", "attached_pic", "-id3v2_version", "3", str(files["mp3_cover_art"]),
    )  # fmt: skip
    return files


def _silence_hour(root: Path) -> dict[str, Path]:
    """An hour of 8 kHz silence, a few MB: one minute encoded, then stream-copied 60 times."""
    minute_opus, minute_mp3 = root / "minute.ogg", root / "minute.mp3"
    silence = ["-f", "lavfi", "-i", "anullsrc=r=8000:cl=mono", "-t", "60"]
    _ffmpeg(*silence, "-c:a", "libopus", "-b:a", "6k", str(minute_opus))
    _ffmpeg(*silence, "-c:a", "libmp3lame", "-b:a", "8k", str(minute_mp3))
    files = {"silence_hour_opus": root / "hour.ogg", "silence_hour_mp3": root / "hour.mp3"}
    loop = ["-stream_loop", "59"]
    _ffmpeg(*loop, "-i", str(minute_opus), "-c", "copy", str(files["silence_hour_opus"]))
    _ffmpeg(*loop, "-i", str(minute_mp3), "-c", "copy", str(files["silence_hour_mp3"]))
    # The same hour as a streamed WebM: no duration in the header, so only a decode can tell.
    files["silence_hour_webm_stream"] = root / "hour-stream.webm"
    with files["silence_hour_webm_stream"].open("wb") as out:
        _run(
            ["ffmpeg", "-nostdin", "-v", "error", *loop, "-i", str(minute_opus), "-c", "copy",
             "-f", "webm", "pipe:1"],
            stdout=out,
        )  # fmt: skip
    return files


def _video_and_streams(root: Path, master: Path) -> dict[str, Path]:
    files = {
        "video_mp4": root / "clip.mp4",
        "video_webm": root / "clip.webm",
        "video_only_mkv": root / "silent-film.mkv",
        "two_audio_tracks": root / "two-tracks.mka",
        "ac3_mka": root / "speech-ac3.mka",
    }
    picture = ["-f", "lavfi", "-i", "testsrc=size=160x120:rate=10:duration=3"]
    tone = ["-f", "lavfi", "-i", "sine=frequency=440:duration=3"]
    _ffmpeg(*picture, *tone, "-c:v", "libx264", "-c:a", "aac", str(files["video_mp4"]))
    _ffmpeg(*picture, *tone, "-c:v", "libvpx", "-c:a", "libopus", str(files["video_webm"]))
    _ffmpeg(*picture, "-c:v", "libx264", str(files["video_only_mkv"]))
    _ffmpeg(
        "-i", str(master), *tone, "-map", "0:a", "-map", "1:a", "-c:a", "flac",
        str(files["two_audio_tracks"]),
    )  # fmt: skip
    _ffmpeg("-i", str(master), "-c:a", "ac3", str(files["ac3_mka"]))
    return files


def _odd_shapes(root: Path, master: Path) -> dict[str, Path]:
    files = {
        "eight_channels": root / "eight-channels.wav",
        "rate_192k": root / "hi-res-192k.flac",
        "aiff": root / "speech.aiff",
    }
    _ffmpeg("-i", str(master), "-af", "pan=7.1|c0=c0|c1=c0|c2=c0|c3=c0|c4=c0|c5=c0|c6=c0|c7=c0",
            str(files["eight_channels"]))  # fmt: skip
    _ffmpeg("-i", str(master), "-ar", "192000", "-c:a", "flac", str(files["rate_192k"]))
    _ffmpeg("-i", str(master), str(files["aiff"]))
    return files


def _broken(root: Path, good: dict[str, Path]) -> dict[str, Path]:
    files = {
        "text_as_wav": root / "notes.wav",
        "empty": root / "empty.wav",
        "truncated_wav": root / "half.wav",
        "truncated_mp3": root / "half.mp3",
        "truncated_few_bytes": root / "stub.mp3",
        "truncated_m4a": root / "half.m4a",  # its index (moov) was at the end: now missing
    }
    files["text_as_wav"].write_text("Dear diary, this is not a recording at all.\n" * 50)
    files["empty"].write_bytes(b"")
    wav, mp3 = good["wav"].read_bytes(), good["mp3"].read_bytes()
    files["truncated_wav"].write_bytes(wav[: len(wav) // 2])
    files["truncated_mp3"].write_bytes(mp3[: len(mp3) // 2])
    files["truncated_few_bytes"].write_bytes(mp3[:12])
    m4a = good["m4a"].read_bytes()
    files["truncated_m4a"].write_bytes(m4a[: len(m4a) // 2])
    return files


def _quality(root: Path, audio: np.ndarray) -> dict[str, Path]:
    noise = np.random.default_rng(7).standard_normal(audio.size).astype(np.float32)
    peak = float(np.abs(audio).max())
    return {
        # +20 dB into a 16-bit file: everything loud is flattened at full scale.
        "clipped": _write(root / "clipped.wav", audio / peak * 10.0),
        "quiet": _write(root / "quiet.wav", audio * 10 ** (-30 / 20)),
        "noisy": _write(root / "noisy.wav", audio + noise * 10 ** (-32 / 20)),
    }


def _speakers(root: Path) -> dict[str, Path]:
    return {
        "spk_m3_a": root / "spk-m3-a.wav",
        "spk_m3_b": root / "spk-m3-b.wav",
        "spk_f3_b": root / "spk-f3-b.wav",
        "spk_de": root / "spk-de.wav",
    }


def build_corpus(directory: Path | str) -> dict[str, Path]:
    """Write the whole corpus under `directory` and return {name: path}."""
    root = Path(directory)
    tmp = root / "espeak"
    tmp.mkdir(parents=True, exist_ok=True)
    masters = {v: _write(root / f"master-{v}.wav", recording(tmp, voice=v)) for v in VOICES}
    files = build_accepted(root, masters)
    files.update(_silence_hour(root))
    files.update(_video_and_streams(root, masters["m3"]))
    files.update(_odd_shapes(root, masters["m3"]))
    files.update(_broken(root, files))
    files.update(_quality(root, sf.read(masters["m3"], dtype="float32")[0]))
    short = speak(TEXT_SHORT, tmp / "short.wav", voice="m3")
    files["short_speech"] = _write(root / "short.wav", np.concatenate([_silence(0.5), short]))
    speakers = _speakers(root)
    speak(TEXT_A1 + " " + TEXT_A2, speakers["spk_m3_a"], voice="m3")
    speak(TEXT_B, speakers["spk_m3_b"], voice="m3")
    speak(TEXT_B, speakers["spk_f3_b"], voice="f3")
    speak(f"{TEXT_DE1} {TEXT_DE2}", speakers["spk_de"], voice="de")
    files.update(speakers)
    return files


_built: dict[Path, dict[str, Path]] = {}


def cached_corpus(directory: Path) -> dict[str, Path]:
    """build_corpus once per directory per process, so test modules can share one corpus."""
    directory = Path(directory)
    if directory not in _built:
        _built[directory] = build_corpus(directory)
    return _built[directory]
