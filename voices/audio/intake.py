"""Sample intake: an untrusted uploaded file in, a clean mono WAV and a quality report out.

    intake(upload, work_dir, max_bytes=...) = probe → transcode → clean

Output format: mono 16-bit PCM WAV at 22,050 Hz, the rate XTTS v2 computes its conditioning at
(so the engine never resamples a sample again).

Refusals are `IntakeError(code, message)`; the codes are stable (INTAKE_ERROR_CODES) and the
API maps them to HTTP statuses:

    not_audio                 not an audio file we accept, unreadable, empty, or no sound at all
    too_large                 more bytes than max_bytes
    corrupt                   recognised but damaged, truncated, or failed/timed out decoding
    no_audio_stream           a container with no audio in it
    not_single_audio_stream   a video (even with a sound track), or several audio tracks
    unsupported_codec         an accepted container holding a codec we do not take (e.g. AC-3)
    too_many_channels         more than 2 channels
    sample_rate_too_high      above 96 kHz
    too_long                  longer than max_seconds (header, or a bounded decode)
    too_little_speech         less than min_speech_seconds of speech found
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path

import soundfile as sf

from voices.audio.probe import (
    INTAKE_ERROR_CODES,
    IntakeError,
    ProbeResult,
    check_not_truncated,
    input_args,
    probe,
    run_limited,
)
from voices.audio.quality import QualityReport, clean

__all__ = [
    "INTAKE_ERROR_CODES",
    "OUTPUT_SAMPLE_RATE",
    "IntakeError",
    "IntakeResult",
    "ProbeResult",
    "QualityReport",
    "clean",
    "intake",
    "probe",
    "transcode",
]

OUTPUT_SAMPLE_RATE = 22_050
# A decode may run this far past max_seconds so that a header that under-states the length is
# caught (too_long) rather than silently cut.
OVERRUN_S = 1.0


@dataclass(frozen=True)
class IntakeResult:
    clean_wav_path: Path
    report: QualityReport
    probe: ProbeResult


def transcode(
    path: Path | str,
    out_path: Path | str,
    *,
    max_seconds: float,
    timeout_s: float = 60.0,
    mem_limit_mb: int = 512,
    demuxer: str | None = None,
) -> float:
    """Decode the first audio stream to mono 16-bit PCM WAV at 22,050 Hz; return its seconds.

    Runs ffmpeg with no stdin, only the file protocol, only the accepted demuxers (forced
    to `demuxer` when given, normally ProbeResult.demuxer), a decode cap, a wall-clock timeout
    and RLIMIT_AS/CPU/FSIZE. Raises IntakeError("corrupt") when decoding fails or times out and
    IntakeError("too_long") when the audio runs past max_seconds although the header said not.
    """
    out_path = Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    partial = out_path.with_name(out_path.name + ".part")
    cap = max_seconds + OVERRUN_S
    cmd = [
        "ffmpeg", "-nostdin", "-hide_banner", "-v", "error", "-y", "-threads", "1",
        "-t", f"{cap:.3f}", *input_args(path, demuxer=demuxer),
        "-map", "0:a:0", "-vn", "-sn", "-dn", "-map_metadata", "-1",
        "-ac", "1", "-ar", str(OUTPUT_SAMPLE_RATE), "-c:a", "pcm_s16le", "-f", "wav",
        f"file:{partial.resolve()}",
    ]  # fmt: skip
    max_file = int(cap * OUTPUT_SAMPLE_RATE * 2) + 1_000_000  # the WAV we asked for, plus slack
    try:
        seconds = _run_decoder(
            cmd, partial, timeout_s=timeout_s, mem_limit_mb=mem_limit_mb, max_file_bytes=max_file
        )
        if seconds > max_seconds + OVERRUN_S / 2:
            raise IntakeError("too_long", f"The recording is longer than {max_seconds:g} s.")
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    partial.replace(out_path)
    return seconds


def _run_decoder(
    cmd: list[str], output: Path, *, timeout_s: float, mem_limit_mb: int, max_file_bytes: int
) -> float:
    try:
        done = run_limited(
            cmd, timeout_s=timeout_s, mem_limit_mb=mem_limit_mb, max_file_bytes=max_file_bytes
        )
    except subprocess.TimeoutExpired as exc:
        raise IntakeError("corrupt", "Decoding the audio took too long.") from exc
    if done.returncode != 0:
        message = "The audio could not be decoded; the file is damaged."
        raise IntakeError("corrupt", message, detail=done.stderr.decode(errors="replace")[-2000:])
    try:
        return sf.info(str(output)).frames / OUTPUT_SAMPLE_RATE
    except (RuntimeError, sf.LibsndfileError) as exc:  # ffmpeg said yes but wrote no valid WAV
        raise IntakeError("corrupt", "The audio could not be decoded.") from exc


def intake(
    upload_path: Path | str,
    work_dir: Path | str,
    *,
    max_bytes: int,
    max_seconds: float = 300.0,
    min_speech_seconds: float = 6.0,
    target_lufs: float = -23.0,
    denoise: bool = False,
) -> IntakeResult:
    """Probe, transcode and clean one upload; the clean WAV is work_dir/"clean.wav".

    Raises IntakeError (see the module docstring for codes). Intermediate files are removed;
    work_dir should be private to this sample.
    """
    work_dir = Path(work_dir)
    work_dir.mkdir(parents=True, exist_ok=True)
    found = probe(upload_path, max_bytes=max_bytes, max_seconds=max_seconds)
    decoded = work_dir / "decoded.wav"
    try:
        seconds = transcode(upload_path, decoded, max_seconds=max_seconds, demuxer=found.demuxer)
        check_not_truncated(found, decoded_seconds=seconds, max_seconds=max_seconds)
        clean_path = work_dir / "clean.wav"
        report = clean(
            decoded,
            clean_path,
            min_speech_seconds=min_speech_seconds,
            target_lufs=target_lufs,
            denoise=denoise,
            source=found,
        )
    finally:
        decoded.unlink(missing_ok=True)
    return IntakeResult(clean_wav_path=clean_path, report=report, probe=found)
