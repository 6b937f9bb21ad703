"""First look at an untrusted upload: what it really is, refused before anything decodes it all.

Pure functions configured by arguments (no Django), so the audio worker and the tests share them.
Everything that reads the upload runs in a resource-limited ffprobe/ffmpeg child process
(`run_limited`): the demuxers and decoders are the attack surface, not this Python code.
"""

from __future__ import annotations

import json
import os
import resource
import struct
import subprocess
from dataclasses import asdict, dataclass
from pathlib import Path

# Demuxers we let ffmpeg use at all (`-format_whitelist`). This is a security boundary as much as
# a product choice: it keeps out the concat, playlist and image demuxers, which can be made to
# open other local files. "mov" is the MP4/M4A demuxer, "aac" is raw ADTS, "matroska" reads WebM.
ACCEPTED_DEMUXERS = ("wav", "mp3", "flac", "mov", "aac", "ogg", "matroska")
ACCEPTED_CODECS = frozenset({"mp3", "aac", "flac", "vorbis", "opus"})  # plus any "pcm_*" in WAV
ACCEPTED_LABEL = "WAV, MP3, FLAC, M4A/AAC, OGG (Vorbis or Opus) or WebM (Opus)"
MAX_CHANNELS = 2
MAX_SAMPLE_RATE = 96_000
# Decoded audio may come up this much shorter than the header says before we call it truncated
# (encoder delay and padding, rounding of estimated durations).
TRUNCATION_TOLERANCE_S = 1.0
TRUNCATION_TOLERANCE_RATIO = 0.1


# Every IntakeError code, with what it means; the API maps each to an HTTP status.
INTAKE_ERROR_CODES = {
    "not_audio": "not an audio file we accept, unreadable, empty, or no sound at all",
    "too_large": "more bytes than max_bytes",
    "corrupt": "recognised but damaged or truncated, or decoding failed or timed out",
    "no_audio_stream": "a container with no audio in it",
    "not_single_audio_stream": "a video (even with a sound track), or several audio tracks",
    "unsupported_codec": "an accepted container holding a codec we do not take (e.g. AC-3)",
    "too_many_channels": f"more than {MAX_CHANNELS} channels",
    "sample_rate_too_high": f"a sample rate above {MAX_SAMPLE_RATE} Hz",
    "too_long": "longer than max_seconds (by the header, or by a bounded decode)",
    "too_little_speech": "less than min_speech_seconds of speech found",
}


class IntakeError(Exception):
    """A refusal the user can act on. `code` is stable (the API maps it to an HTTP status);
    `message` is for a person and says what to do."""

    def __init__(self, code: str, message: str, *, detail: str = "") -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.detail = detail  # for the operator's log (e.g. ffmpeg's stderr), never for the user


@dataclass(frozen=True)
class ProbeResult:
    """What ffprobe found in the upload, after every refusal check passed."""

    format_name: str  # ffprobe's demuxer name list, e.g. "mov,mp4,m4a,3gp,3g2,mj2"
    codec: str
    audio_streams: int
    video_streams: int  # real video only; cover-art pictures are not counted
    duration_seconds: float
    duration_from_header: bool  # False: the header had none and we measured a bounded decode
    sample_rate: int
    channels: int
    size_bytes: int

    @property
    def demuxer(self) -> str:
        """The demuxer to force when decoding, so ffmpeg cannot pick another one the second time."""
        return self.format_name.split(",")[0]

    def to_dict(self) -> dict:
        return {**asdict(self), "demuxer": self.demuxer}


def run_limited(
    cmd: list[str],
    *,
    timeout_s: float,
    mem_limit_mb: int,
    max_file_bytes: int | None = None,
) -> subprocess.CompletedProcess:
    """Run an ffmpeg-family command with no stdin, a wall-clock timeout and rlimits.

    RLIMIT_AS bounds memory, RLIMIT_CPU bounds CPU time (the kernel kills a decoder stuck in a
    loop even if the timeout thread is starved), RLIMIT_FSIZE bounds what it may write, and
    RLIMIT_CORE=0 keeps a crashing decoder from dumping the upload to disk.
    Raises subprocess.TimeoutExpired; the child is killed first.

    Debian's ffmpeg maps ~270 MB of shared libraries before it reads a byte, so mem_limit_mb
    below ~300 makes every run fail (exit 127); the 512 MB default leaves ~200 MB for decoding.
    """
    cpu_s = max(1, int(timeout_s))
    limits = [
        (resource.RLIMIT_AS, mem_limit_mb * 1024 * 1024),
        (resource.RLIMIT_CPU, cpu_s),
        (resource.RLIMIT_CORE, 0),
    ]
    if max_file_bytes is not None:
        limits.append((resource.RLIMIT_FSIZE, max_file_bytes))

    def apply_limits() -> None:  # runs in the child between fork and exec
        for kind, value in limits:
            resource.setrlimit(kind, (value, value))

    # Fewer malloc arenas: each reserves 64 MiB of address space, which RLIMIT_AS counts.
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "MALLOC_ARENA_MAX": "2"}
    return subprocess.run(
        cmd,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        timeout=timeout_s,
        # preexec_fn is unsafe only if other threads hold locks at fork; ours are pure Python.
        preexec_fn=apply_limits,
        env=env,
        check=False,
    )


def input_args(path: Path | str, *, demuxer: str | None = None) -> list[str]:
    """ffmpeg/ffprobe input options shared by every read of an upload."""
    # Only the file protocol: we always read a local path, never a pipe or anything on a network.
    args = ["-protocol_whitelist", "file", "-format_whitelist", ",".join(ACCEPTED_DEMUXERS)]
    if demuxer:
        args += ["-f", demuxer]
    # "file:" so a name with a colon or a leading dash can never be read as a protocol or option.
    return [*args, "-i", f"file:{Path(path).resolve()}"]


def probe(
    path: Path | str,
    *,
    max_bytes: int,
    max_seconds: float = 300.0,
    timeout_s: float = 15.0,
    mem_limit_mb: int = 512,
) -> ProbeResult:
    """Identify an uploaded file by content with ffprobe and refuse what we will not decode.

    Refusals (IntakeError codes): not_audio, too_large, corrupt, no_audio_stream,
    not_single_audio_stream, unsupported_codec, too_many_channels, sample_rate_too_high,
    too_long. The duration comes from the header; only when the header has none (browser WebM
    recordings) is at most max_seconds + 1 s decoded to measure it.
    """
    path = Path(path)
    size = _checked_size(path, max_bytes=max_bytes)
    info = _ffprobe_json(path, timeout_s=timeout_s, mem_limit_mb=mem_limit_mb)
    fmt = info.get("format") or {}
    format_name = str(fmt.get("format_name") or "")
    if not format_name:
        raise IntakeError("not_audio", f"This is not an audio file we accept ({ACCEPTED_LABEL}).")
    streams = info.get("streams") or []
    audio = [s for s in streams if s.get("codec_type") == "audio"]
    video = [s for s in streams if s.get("codec_type") == "video" and not _is_cover_art(s)]
    _check_streams(audio, video)
    stream = audio[0]
    codec = str(stream.get("codec_name") or "")
    channels, rate = _check_stream_shape(stream, codec)
    if format_name == "wav" and _wav_data_truncated(path, size):
        raise IntakeError(
            "corrupt", "The WAV file ends early; it looks truncated. Upload it again."
        )
    seconds = _header_duration(fmt, stream)
    from_header = seconds is not None
    if seconds is None:
        seconds = measure_duration(
            path,
            cap_seconds=max_seconds + 1,
            demuxer=format_name.split(",")[0],
            mem_limit_mb=mem_limit_mb,
        )
    _check_duration(seconds, max_seconds=max_seconds, measured=not from_header)
    return ProbeResult(
        format_name=format_name,
        codec=codec,
        audio_streams=len(audio),
        video_streams=len(video),
        duration_seconds=round(seconds, 3),
        duration_from_header=from_header,
        sample_rate=rate,
        channels=channels,
        size_bytes=size,
    )


def _checked_size(path: Path, *, max_bytes: int) -> int:
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise IntakeError("not_audio", "The uploaded file could not be read.") from exc
    if size == 0:
        raise IntakeError("not_audio", "The file is empty.")
    if size > max_bytes:
        limit_mb = max_bytes / 1_000_000
        raise IntakeError("too_large", f"The file is larger than {limit_mb:g} MB.")
    return size


def _ffprobe_json(path: Path, *, timeout_s: float, mem_limit_mb: int) -> dict:
    cmd = [
        "ffprobe", "-v", "error", "-hide_banner",
        *input_args(path), "-show_format", "-show_streams", "-of", "json",
    ]  # fmt: skip
    try:
        done = run_limited(cmd, timeout_s=timeout_s, mem_limit_mb=mem_limit_mb)
    except subprocess.TimeoutExpired as exc:
        raise IntakeError("corrupt", "The file could not be read in time.") from exc
    stderr = done.stderr.decode(errors="replace")
    if done.returncode != 0:
        detail = stderr[-2000:]
        if _recognised_but_broken(stderr):
            message = "The audio file is damaged or incomplete. Upload it again."
            raise IntakeError("corrupt", message, detail=detail)
        message = f"This is not an audio file we accept ({ACCEPTED_LABEL})."
        raise IntakeError("not_audio", message, detail=detail)
    try:
        return json.loads(done.stdout)
    except ValueError as exc:
        raise IntakeError("corrupt", "The audio file could not be read.") from exc


def _recognised_but_broken(stderr: str) -> bool:
    """Whether ffprobe failed inside one of our demuxers (cut off, index missing: "corrupt")
    rather than finding nothing it may read ("not_audio").

    ffmpeg prefixes a demuxer's messages with its names, e.g. "[mov,mp4,m4a,3gp,3g2,mj2 @ 0x…]
    moov atom not found" for an M4A whose upload stopped before the index at its end.
    """
    if "not on whitelist" in stderr:
        return False
    for line in stderr.splitlines():
        context = line.removeprefix("[").split(" @ ", 1)[0] if line.startswith("[") else ""
        if set(context.split(",")) & set(ACCEPTED_DEMUXERS):
            return True
    return "Invalid data found" not in stderr


def _is_cover_art(stream: dict) -> bool:
    # MP3/M4A album art is a one-frame "video" stream flagged attached_pic: not a video.
    return bool((stream.get("disposition") or {}).get("attached_pic"))


def _check_streams(audio: list[dict], video: list[dict]) -> None:
    if not audio:
        raise IntakeError("no_audio_stream", "The file has no audio in it.")
    if video:
        # Decision: a video with a sound track is refused, not silently stripped. A voice sample
        # should be a deliberate audio recording; extract the audio first if that is what you meant.
        raise IntakeError(
            "not_single_audio_stream",
            "This is a video. Upload an audio recording (extract the sound from the video first).",
        )
    if len(audio) > 1:
        raise IntakeError(
            "not_single_audio_stream",
            f"The file has {len(audio)} audio tracks; upload a recording with exactly one.",
        )


def _check_stream_shape(stream: dict, codec: str) -> tuple[int, int]:
    if codec not in ACCEPTED_CODECS and not codec.startswith("pcm_"):
        raise IntakeError(
            "unsupported_codec",
            f"The audio is encoded as {codec or 'an unknown codec'}; use {ACCEPTED_LABEL}.",
        )
    channels = int(stream.get("channels") or 0)
    rate = int(stream.get("sample_rate") or 0)
    if channels < 1 or rate < 1:
        raise IntakeError("corrupt", "The audio stream has no channels or sample rate.")
    if channels > MAX_CHANNELS:
        raise IntakeError(
            "too_many_channels",
            f"The recording has {channels} channels; upload mono or stereo.",
        )
    if rate > MAX_SAMPLE_RATE:
        raise IntakeError(
            "sample_rate_too_high",
            f"The sample rate is {rate / 1000:g} kHz; the most we take is "
            f"{MAX_SAMPLE_RATE // 1000} kHz.",
        )
    return channels, rate


def _header_duration(fmt: dict, stream: dict) -> float | None:
    for value in (fmt.get("duration"), stream.get("duration")):
        try:
            seconds = float(value)
        except (TypeError, ValueError):
            continue
        if seconds >= 0:
            return seconds
    return None


def _check_duration(seconds: float, *, max_seconds: float, measured: bool) -> None:
    if seconds <= 0.01:
        raise IntakeError("not_audio", "The file contains no sound.")
    if seconds > max_seconds:
        # A measured length stops at the decode cap, so all we know is "longer than the limit".
        length = "longer than that" if measured else f"{_minutes(seconds)} long"
        raise IntakeError(
            "too_long",
            f"The limit is {_minutes(max_seconds)} of audio; this recording is {length}.",
        )


def _minutes(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} s"
    return f"{seconds / 60:.0f} min"


def measure_duration(
    path: Path | str, *, cap_seconds: float, demuxer: str, mem_limit_mb: int = 512
) -> float:
    """Decode at most cap_seconds of the first audio stream and return how long it was.

    For containers without a duration in the header. Decodes to 8 kHz mono to keep it cheap.
    """
    rate = 8000
    cmd = [
        "ffmpeg", "-nostdin", "-hide_banner", "-v", "error", "-threads", "1",
        "-t", f"{cap_seconds:.3f}", *input_args(path, demuxer=demuxer),
        "-map", "0:a:0", "-ac", "1", "-ar", str(rate), "-f", "s16le", "pipe:1",
    ]  # fmt: skip
    try:
        done = run_limited(cmd, timeout_s=30 + cap_seconds / 10, mem_limit_mb=mem_limit_mb)
    except subprocess.TimeoutExpired as exc:
        raise IntakeError("corrupt", "The file could not be decoded in time.") from exc
    if done.returncode != 0:
        message = "The audio file is damaged and could not be decoded."
        raise IntakeError("corrupt", message, detail=done.stderr.decode(errors="replace")[-2000:])
    return len(done.stdout) / 2 / rate


def _wav_data_truncated(path: Path, size: int) -> bool:
    """True when a WAV header promises more sample bytes than the file holds.

    ffmpeg silently plays what is there, so a half-uploaded WAV would pass as a shorter one.
    Streaming writers put 0 or 0xFFFFFFFF in the size field; those are not judged.
    """
    with path.open("rb") as fh:
        head = fh.read(12)
        if len(head) < 12 or head[:4] != b"RIFF" or head[8:12] != b"WAVE":
            return False
        offset = 12
        for _ in range(64):  # a WAV has a handful of chunks; stop on anything stranger
            fh.seek(offset)
            chunk = fh.read(8)
            if len(chunk) < 8:
                return False
            chunk_id, chunk_size = struct.unpack("<4sI", chunk)
            if chunk_id == b"data":
                unknown = chunk_size in (0, 0xFFFFFFFF)
                return not unknown and offset + 8 + chunk_size > size
            offset += 8 + chunk_size + (chunk_size & 1)
    return False


def check_not_truncated(result: ProbeResult, *, decoded_seconds: float, max_seconds: float) -> None:
    """Refuse when the decode came out much shorter than the header promised (cut-off upload)."""
    if not result.duration_from_header:
        return
    expected = min(result.duration_seconds, max_seconds)
    tolerance = max(TRUNCATION_TOLERANCE_S, TRUNCATION_TOLERANCE_RATIO * expected)
    if decoded_seconds < expected - tolerance:
        raise IntakeError(
            "corrupt",
            f"The file stops after {decoded_seconds:.1f} s of its {expected:.1f} s; it looks "
            "truncated (an interrupted upload?). Upload it again.",
        )
