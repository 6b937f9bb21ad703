"""Encoding synthesized float32 mono audio to the formats clients ask for, whole or streaming.

wav and pcm (16-bit little-endian) are written in Python; mp3, Ogg Opus, AAC (ADTS), FLAC and
the telephone codecs (G.711 mu-law and A-law, raw 8 kHz bytes as Twilio takes them) by an ffmpeg
subprocess that reads raw float samples from a pipe. A whole file is written to a temporary
file, so that ffmpeg can go back and fill in what only the end knows (the mp3 Xing/LAME gapless
header, FLAC's sample count); a stream goes to a pipe and comes back as it is produced, except
FLAC: a FLAC "stream" is written whole once the audio ends (see :class:`StreamEncoder`). Every
failure is an :class:`EncodingError` whose message can be shown to a user.
"""

import dataclasses
import fcntl
import os
import re
import select
import struct
import subprocess
import tempfile
import termios
import time
import weakref
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import NoReturn

import numpy as np

FFMPEG = "ffmpeg"
DEFAULT_SAMPLE_RATE = 24_000
# Whole-file encodes get a base allowance plus time per second of audio; mp3/aac/opus encode
# faster than 50x real time on one core, so hitting this means ffmpeg is stuck.
FFMPEG_TIMEOUT_S = 60.0
FFMPEG_TIMEOUT_PER_AUDIO_SECOND = 0.5
MIN_SAMPLE_RATE, MAX_SAMPLE_RATE = 8_000, 192_000
# A stream whose ffmpeg neither takes input nor gives output for this long is stuck.
STREAM_STALL_TIMEOUT_S = 30.0
# After feeding, wait until ffmpeg has read the input and gone quiet, so the bytes for this
# chunk leave now rather than with the next chunk (seconds later, while the model works).
SETTLE_QUIET_S = 0.03
SETTLE_MAX_S = 1.0
_PIPE_WRITE_BYTES = 65_536


class EncodingError(Exception):
    """Audio could not be encoded. The message is written for the person who asked."""


@dataclass(frozen=True)
class AudioFormat:
    """What a response format is and how ffmpeg makes it (``codec_args`` is None: no ffmpeg)."""

    name: str
    content_type: str
    extension: str
    codec_args: tuple[str, ...] | None = None
    sample_rates: frozenset[int] | None = None  # None: any rate in [MIN, MAX]_SAMPLE_RATE
    default_bitrate: int | None = None  # None: the format has no bitrate option
    stream_args: tuple[str, ...] = ()  # extra muxer options when writing to a pipe
    # False: the header must hold the length (FLAC's total-samples field; a piped FLAC says 0,
    # which ffprobe reads as "no duration" and soundfile refuses), so a stream of this format
    # is written whole once the audio ends instead of piece by piece.
    streams: bool = True


_MP3_RATES = frozenset({8000, 11025, 12000, 16000, 22050, 24000, 32000, 44100, 48000})
_AAC_RATES = _MP3_RATES | {64000, 88200, 96000}
_OPUS_RATES = frozenset({8000, 12000, 16000, 24000, 48000})
_TELEPHONE_RATES = frozenset({8000})  # G.711 is defined at 8 kHz only

FORMATS = MappingProxyType(
    {
        "mp3": AudioFormat(
            "mp3", "audio/mpeg", "mp3", ("-c:a", "libmp3lame", "-f", "mp3"), _MP3_RATES, 64_000
        ),
        "opus": AudioFormat(
            "opus",
            "audio/ogg",
            "opus",
            ("-c:a", "libopus", "-f", "ogg"),
            _OPUS_RATES,
            32_000,
            # Ogg pages hold 1 s by default; a listener should not wait that long per page.
            stream_args=("-page_duration", "100000"),
        ),
        "aac": AudioFormat(
            "aac", "audio/aac", "aac", ("-c:a", "aac", "-f", "adts"), _AAC_RATES, 64_000
        ),
        "flac": AudioFormat(
            "flac",
            "audio/flac",
            "flac",
            ("-c:a", "flac", "-sample_fmt", "s16", "-f", "flac"),
            streams=False,
        ),
        "wav": AudioFormat("wav", "audio/wav", "wav"),
        "pcm": AudioFormat("pcm", "audio/pcm", "pcm"),
        # Raw G.711 bytes, no header (what ElevenLabs' ulaw_8000 / alaw_8000 answer and Twilio
        # media streams carry); ffmpeg reads them back with -f mulaw / -f alaw -ar 8000.
        "ulaw": AudioFormat(
            "ulaw", "audio/basic", "ul", ("-c:a", "pcm_mulaw", "-f", "mulaw"), _TELEPHONE_RATES
        ),
        "alaw": AudioFormat(
            "alaw", "audio/x-alaw-basic", "al", ("-c:a", "pcm_alaw", "-f", "alaw"), _TELEPHONE_RATES
        ),
    }
)


@dataclass(frozen=True)
class EncodeOptions:
    """Validated encoding options (see :func:`check_options`)."""

    format: AudioFormat
    sample_rate_in: int
    sample_rate_out: int
    bitrate: int | None

    @property
    def needs_ffmpeg(self) -> bool:
        return self.format.codec_args is not None or self.sample_rate_in != self.sample_rate_out


# --- option checks ------------------------------------------------------------------------------


def _check_rate(value, *, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        raise EncodingError(f"{what} must be a whole number of Hz, not {value!r}.")
    if not MIN_SAMPLE_RATE <= value <= MAX_SAMPLE_RATE:
        raise EncodingError(
            f"{what} {value} Hz is out of range ({MIN_SAMPLE_RATE}-{MAX_SAMPLE_RATE} Hz)."
        )
    return int(value)


_BITRATE = re.compile(r"(\d+)(k?)", re.IGNORECASE)


def _parse_bitrate(bitrate) -> int:
    if isinstance(bitrate, int | np.integer) and not isinstance(bitrate, bool):
        value = int(bitrate)
    elif isinstance(bitrate, str) and (match := _BITRATE.fullmatch(bitrate.strip())):
        value = int(match.group(1)) * (1000 if match.group(2) else 1)
    else:
        raise EncodingError(f"Bitrate {bitrate!r} is not a number like 64000 or '64k'.")
    if value < 1000:
        raise EncodingError(f"Bitrate {value} is in bits per second: did you mean '{value}k'?")
    return value


def _bitrate_range(fmt: AudioFormat, sample_rate: int) -> tuple[int, int]:
    if fmt.name == "mp3":  # MPEG-1, MPEG-2 and MPEG-2.5 layer III allow different rates
        if sample_rate >= 32000:
            return 32_000, 320_000
        return (8_000, 160_000) if sample_rate >= 16000 else (8_000, 64_000)
    if fmt.name == "aac":  # at most 6 bits per sample per channel
        return 8_000, min(320_000, 6 * sample_rate)
    return 6_000, 256_000  # opus, one channel


def _check_bitrate(fmt: AudioFormat, bitrate, sample_rate: int) -> int | None:
    if bitrate is None:
        return fmt.default_bitrate
    if fmt.default_bitrate is None:
        raise EncodingError(f"The {fmt.name} format has no bitrate option.")
    value = _parse_bitrate(bitrate)
    low, high = _bitrate_range(fmt, sample_rate)
    if not low <= value <= high:
        raise EncodingError(
            f"{fmt.name} at {sample_rate} Hz supports bitrates from {low // 1000}k "
            f"to {high // 1000}k, not {value // 1000}k."
        )
    return value


def check_options(
    *, fmt: str, sample_rate_in: int = DEFAULT_SAMPLE_RATE, sample_rate_out=None, bitrate=None
) -> EncodeOptions:
    """Validate a format request; raise EncodingError with a message a user can act on.

    ``sample_rate_out`` defaults to ``sample_rate_in``; ``bitrate`` (bits/s as int, or "64k")
    applies to mp3, aac and opus only. Opus accepts only 8, 12, 16, 24 and 48 kHz; ulaw and
    alaw (G.711) only 8 kHz.
    """
    audio_format = FORMATS.get(str(fmt).lower())
    if audio_format is None:
        raise EncodingError(f"Unknown audio format {fmt!r}. Choose one of: {', '.join(FORMATS)}.")
    rate_in = _check_rate(sample_rate_in, what="Input sample rate")
    rate_out = rate_in if sample_rate_out is None else sample_rate_out
    rate_out = _check_rate(rate_out, what="Sample rate")
    allowed = audio_format.sample_rates
    if allowed is not None and rate_out not in allowed:
        choices = ", ".join(str(rate) for rate in sorted(allowed))
        raise EncodingError(
            f"{audio_format.name} does not support {rate_out} Hz. Choose one of: {choices}."
        )
    return EncodeOptions(
        format=audio_format,
        sample_rate_in=rate_in,
        sample_rate_out=rate_out,
        bitrate=_check_bitrate(audio_format, bitrate, rate_out),
    )


# --- samples and headers ------------------------------------------------------------------------


def as_float32_mono(audio) -> np.ndarray:
    """Return ``audio`` as contiguous float32 in [-1, 1]; EncodingError if it is unusable."""
    try:
        samples = np.asarray(audio)
    except (TypeError, ValueError) as error:
        raise EncodingError("Audio must be an array of float samples.") from error
    if samples.dtype.kind != "f":  # int16 PCM here would be 32768 times too loud
        raise EncodingError(f"Audio must hold float samples in [-1, 1], not {samples.dtype}.")
    samples = samples.astype("<f4", copy=False)
    if samples.ndim != 1:
        raise EncodingError(f"Audio must be mono (1-D), not shape {samples.shape}.")
    if not np.all(np.isfinite(samples)):
        raise EncodingError("Audio contains NaN or infinite samples.")
    # Engines overshoot full scale a little; clipping here is gentler than letting codecs wrap.
    return np.ascontiguousarray(np.clip(samples, -1.0, 1.0))


def to_s16le(samples: np.ndarray) -> bytes:
    """Float samples in [-1, 1] as 16-bit little-endian PCM bytes."""
    # Scaled like ffmpeg's own float-to-s16 conversion, so both paths give the same samples.
    return np.clip(np.rint(samples * 32768.0), -32768, 32767).astype("<i2").tobytes()


# A streamed WAV cannot know its length up front; like most TTS servers we declare the largest
# size, and players read until the stream ends.
STREAMING_WAV_SIZE = 0xFFFFFFFF


def wav_header(*, sample_rate: int, data_bytes: int | None) -> bytes:
    """A 44-byte RIFF header for 16-bit mono PCM; ``data_bytes=None`` for an open-ended stream."""
    if data_bytes is None:
        riff_size = data_size = STREAMING_WAV_SIZE
    elif data_bytes > STREAMING_WAV_SIZE - 36:
        raise EncodingError("The audio is too long for a WAV file (4 GB); choose flac instead.")
    else:
        riff_size, data_size = 36 + data_bytes, data_bytes
    # fmt chunk: PCM (1), mono, rate, bytes per second, block align 2, 16 bits per sample.
    fmt_chunk = struct.pack("<4sIHHIIHH", b"fmt ", 16, 1, 1, sample_rate, sample_rate * 2, 2, 16)
    return (
        struct.pack("<4sI4s", b"RIFF", riff_size, b"WAVE")
        + fmt_chunk
        + struct.pack("<4sI", b"data", data_size)
    )


# --- ffmpeg -------------------------------------------------------------------------------------


def ffmpeg_command(options: EncodeOptions, *, output: str, streaming: bool) -> list[str]:
    """The ffmpeg command line: raw float32 from stdin to ``output`` (a pipe or a file)."""
    audio_format = options.format
    if audio_format.codec_args is None:  # pcm/wav that only need resampling: raw s16 out
        codec_args: tuple[str, ...] = ("-c:a", "pcm_s16le", "-f", "s16le")
    else:
        codec_args = audio_format.codec_args
    command = [FFMPEG, "-nostdin", "-hide_banner", "-loglevel", "error"]
    # Raw input needs no probing; ffmpeg would otherwise buffer seconds of it before encoding.
    command += ["-probesize", "32", "-analyzeduration", "0", "-protocol_whitelist", "pipe"]
    command += ["-f", "f32le", "-ar", str(options.sample_rate_in)]
    command += ["-ac", "1", "-i", "pipe:0", "-map_metadata", "-1"]
    command += ["-fflags", "+bitexact", "-flags:a", "+bitexact"]  # no encoder name/version
    command += ["-ac", "1", "-ar", str(options.sample_rate_out), *codec_args]
    if options.bitrate is not None:
        command += ["-b:a", str(options.bitrate)]
    if streaming:
        command += [*audio_format.stream_args, "-flush_packets", "1"]
    whitelist = "pipe" if output.startswith("pipe:") else "file"
    return [*command, "-protocol_whitelist", whitelist, "-y", output]


def _ffmpeg_failure(kind: str, what: str, *, stderr: bytes = b"", seconds: float = 0) -> str:
    if kind == "missing":
        return "Audio encoding is unavailable: ffmpeg is not installed on this server."
    if kind == "timeout":
        return f"Encoding {what} audio took longer than {seconds:.0f} s and was stopped."
    lines = stderr.decode("utf-8", "replace").strip().splitlines()
    detail = lines[-1][:300] if lines else "no error message"
    return f"Could not encode {what} audio (ffmpeg: {detail})."


def _timeout_for(samples: np.ndarray, sample_rate: int) -> float:
    return FFMPEG_TIMEOUT_S + FFMPEG_TIMEOUT_PER_AUDIO_SECOND * samples.size / sample_rate


def _run_ffmpeg(command: list[str], samples: np.ndarray, *, timeout: float, what: str):
    try:
        return subprocess.run(
            command,
            input=memoryview(samples).cast("B"),
            capture_output=True,
            timeout=timeout,
            check=False,
        )
    except FileNotFoundError as error:
        raise EncodingError(_ffmpeg_failure("missing", what)) from error
    except subprocess.TimeoutExpired as error:
        raise EncodingError(_ffmpeg_failure("timeout", what, seconds=timeout)) from error


def _ffmpeg_encode(options: EncodeOptions, samples: np.ndarray, *, timeout: float) -> bytes:
    what = options.format.name
    if options.format.codec_args is None:  # resampled pcm/wav: raw samples through a pipe
        command = ffmpeg_command(options, output="pipe:1", streaming=False)
        result = _run_ffmpeg(command, samples, timeout=timeout, what=what)
        if result.returncode != 0:
            raise EncodingError(_ffmpeg_failure("failed", what, stderr=result.stderr))
        return result.stdout
    with tempfile.TemporaryDirectory(prefix="timbre-encode-") as directory:
        path = Path(directory) / f"audio.{options.format.extension}"
        command = ffmpeg_command(options, output=f"file:{path}", streaming=False)
        result = _run_ffmpeg(command, samples, timeout=timeout, what=what)
        if result.returncode != 0 or not path.exists():
            raise EncodingError(_ffmpeg_failure("failed", what, stderr=result.stderr))
        return path.read_bytes()


def encode(
    audio,
    *,
    sample_rate_in: int,
    fmt: str,
    sample_rate_out: int | None = None,
    bitrate: int | str | None = None,
    timeout: float | None = None,
) -> bytes:
    """Encode mono float audio (values in [-1, 1]) to a complete file in ``fmt``.

    Formats: mp3, opus (Ogg), aac (ADTS), flac, wav (16-bit), pcm (raw s16le, no header),
    ulaw and alaw (raw 8 kHz G.711 bytes, no header).
    Resamples to ``sample_rate_out`` when given. mp3 and aac decoders may add up to ~50 ms of
    encoder delay/padding (ADTS cannot say how much; the mp3 file carries a gapless header).
    Raises EncodingError for bad options, bad audio, a missing ffmpeg or an ffmpeg failure.
    """
    options = check_options(
        fmt=fmt, sample_rate_in=sample_rate_in, sample_rate_out=sample_rate_out, bitrate=bitrate
    )
    samples = as_float32_mono(audio)
    if samples.size == 0:
        raise EncodingError("There is no audio to encode.")
    if options.needs_ffmpeg:
        limit = timeout or _timeout_for(samples, options.sample_rate_in)
        data = _ffmpeg_encode(options, samples, timeout=limit)
    else:
        data = to_s16le(samples)
    if options.format.name == "wav":
        return wav_header(sample_rate=options.sample_rate_out, data_bytes=len(data)) + data
    return data


def _kill(process: subprocess.Popen, stderr) -> None:
    if process.poll() is None:
        process.kill()
    process.wait()
    for stream in (process.stdin, process.stdout, stderr):
        if stream is not None:
            stream.close()


class _FfmpegPipe:
    """One ffmpeg process fed through stdin and read from stdout, both non-blocking.

    A single poll loop writes input while draining output, so neither side can fill its pipe
    and wait on the other (the classic subprocess deadlock), and no thread is needed.
    """

    def __init__(self, command: list[str], *, what: str, stall_timeout: float) -> None:
        self._what, self._stall_timeout = what, stall_timeout
        # A file, not a pipe: it can never fill up. Closed by the finalizer, hence no "with".
        self._stderr = tempfile.TemporaryFile()  # noqa: SIM115
        try:
            self._process = subprocess.Popen(
                command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self._stderr
            )
        except FileNotFoundError as error:
            self._stderr.close()
            raise EncodingError(_ffmpeg_failure("missing", what)) from error
        self._stdin, self._stdout = self._process.stdin.fileno(), self._process.stdout.fileno()
        os.set_blocking(self._stdin, False)
        os.set_blocking(self._stdout, False)
        self._eof = False
        self._finalizer = weakref.finalize(self, _kill, self._process, self._stderr)

    def feed(self, data: memoryview) -> bytes:
        self._check_running()
        out = bytearray()
        offset = 0
        while offset < len(data):
            readable, writable = self._wait(writing=True, timeout=self._stall_timeout)
            if readable:
                self._drain(out)
            if writable:
                offset += self._write(data[offset : offset + _PIPE_WRITE_BYTES])
        self._settle(out)
        return bytes(out)

    def close(self) -> bytes:
        self._check_running()
        out = bytearray()
        self._process.stdin.close()  # end of input: ffmpeg flushes the codec and exits
        while not self._eof:
            readable, _ = self._wait(writing=False, timeout=self._stall_timeout)
            if readable:
                self._drain(out)
        try:
            returncode = self._process.wait(timeout=self._stall_timeout)
        except subprocess.TimeoutExpired:
            self._fail("timeout")
        if returncode != 0:
            self._fail("failed")
        self._finalizer()
        return bytes(out)

    def kill(self) -> None:
        self._finalizer()

    def _check_running(self) -> None:
        if not self._finalizer.alive:
            raise EncodingError(f"The {self._what} encoder has already stopped.")

    def _wait(self, *, writing: bool, timeout: float) -> tuple[bool, bool]:
        poller = select.poll()
        poller.register(self._stdout, select.POLLIN)
        if writing:
            poller.register(self._stdin, select.POLLOUT)
        events = dict(poller.poll(timeout * 1000))
        if not events and timeout >= self._stall_timeout:
            self._fail("timeout")
        if writing and events.get(self._stdin, 0) & (select.POLLERR | select.POLLHUP):
            self._fail("failed")  # ffmpeg closed its input: it has died
        return self._stdout in events, writing and self._stdin in events

    def _write(self, data: memoryview) -> int:
        try:
            return os.write(self._stdin, data)
        except BlockingIOError:
            return 0
        except BrokenPipeError:
            self._fail("failed")

    def _drain(self, out: bytearray) -> None:
        while True:
            try:
                block = os.read(self._stdout, 65_536)
            except BlockingIOError:
                return
            if not block:
                self._eof = True
                return
            out += block

    def _unread_input(self) -> int:
        try:  # Linux answers FIONREAD on either end of a pipe
            return int.from_bytes(fcntl.ioctl(self._stdin, termios.FIONREAD, bytes(4)), "little")
        except OSError:
            return 0

    def _settle(self, out: bytearray) -> None:
        deadline = time.monotonic() + SETTLE_MAX_S
        while time.monotonic() < deadline and not self._eof:
            unread = self._unread_input()
            readable, _ = self._wait(writing=False, timeout=SETTLE_QUIET_S)
            if readable:
                self._drain(out)
            elif unread == 0:
                return

    def _fail(self, kind: str) -> NoReturn:
        if self._process.poll() is None:
            self._process.kill()  # stuck: stop it first, so its stderr is complete
        self._process.wait()
        self._stderr.seek(0)
        stderr = self._stderr.read()
        self._finalizer()
        message = _ffmpeg_failure(kind, self._what, stderr=stderr, seconds=self._stall_timeout)
        raise EncodingError(message)


class _WholeFile:
    """For formats that cannot stream (``AudioFormat.streams`` False): the samples wait in a
    temporary file, and ``close()`` encodes them whole, so the header carries the length."""

    def __init__(self, options: EncodeOptions) -> None:
        self._options = options
        self._dir = tempfile.TemporaryDirectory(prefix="timbre-stream-")  # cleans up when lost
        self._raw_path = Path(self._dir.name) / "audio.f32"
        self._raw = self._raw_path.open("wb")  # closed by close() / kill()

    def feed(self, data: memoryview) -> bytes:
        try:
            self._raw.write(data)
        except OSError as error:
            self.kill()
            raise EncodingError(
                f"Could not keep the {self._options.format.name} audio until it ends ({error})."
            ) from error
        return b""

    def close(self) -> bytes:
        self._raw.close()
        options = self._options
        out_path = Path(self._dir.name) / f"audio.{options.format.extension}"
        try:
            encode_raw_file(
                self._raw_path,
                out_path,
                sample_rate_in=options.sample_rate_in,
                fmt=options.format.name,
                sample_rate_out=options.sample_rate_out,
                bitrate=options.bitrate,
            )
            return out_path.read_bytes()
        finally:
            self.kill()

    def kill(self) -> None:
        self._raw.close()
        self._dir.cleanup()


class StreamEncoder:
    """Encode audio incrementally: ``feed()`` samples as they are generated, ``close()`` at the end.

    Each call returns the encoded bytes that are ready, so an HTTP response can send them at
    once. One ffmpeg process (for mp3, opus, aac, ulaw, alaw, or resampled pcm/wav) runs for
    the whole stream. wav streams start with a header whose sizes say "unknown" (0xFFFFFFFF).
    Codecs hold back a frame or two, which ``close()`` returns. FLAC does not stream: its
    header must carry the sample count, so ``feed()`` returns nothing and ``close()`` returns
    the whole file. Use it as a context manager, or call ``abort()`` if the listener goes away,
    so ffmpeg never outlives the request.
    """

    def __init__(
        self,
        fmt: str,
        *,
        sample_rate_in: int,
        sample_rate_out: int | None = None,
        bitrate: int | str | None = None,
        stall_timeout: float = STREAM_STALL_TIMEOUT_S,
    ) -> None:
        self.options = check_options(
            fmt=fmt, sample_rate_in=sample_rate_in, sample_rate_out=sample_rate_out, bitrate=bitrate
        )
        self.content_type = self.options.format.content_type
        self.extension = self.options.format.extension
        self._header_pending = self.options.format.name == "wav"
        self._closed = False
        self._ffmpeg: _FfmpegPipe | _WholeFile | None = None
        if not self.options.format.streams:
            self._ffmpeg = _WholeFile(self.options)
        elif self.options.needs_ffmpeg:
            command = ffmpeg_command(self.options, output="pipe:1", streaming=True)
            self._ffmpeg = _FfmpegPipe(
                command, what=self.options.format.name, stall_timeout=stall_timeout
            )

    def feed(self, audio) -> bytes:
        """Add mono float samples; return whatever encoded bytes are ready (maybe b"")."""
        if self._closed:
            raise EncodingError("This audio stream is already closed.")
        samples = as_float32_mono(audio)
        if self._ffmpeg is None:
            return self._header() + to_s16le(samples)
        try:
            return self._header() + self._ffmpeg.feed(memoryview(samples).cast("B"))
        except EncodingError:
            self._closed = True  # ffmpeg is gone; later calls must not touch its pipes
            raise

    def close(self) -> bytes:
        """Finish the stream and return its last bytes (codec tail, container trailer)."""
        if self._closed:
            return b""
        self._closed = True
        if self._ffmpeg is None:
            return self._header()
        return self._header() + self._ffmpeg.close()

    def abort(self) -> None:
        """Stop now and discard anything pending (the listener went away)."""
        self._closed = True
        if self._ffmpeg is not None:
            self._ffmpeg.kill()

    def __enter__(self) -> "StreamEncoder":
        return self

    def __exit__(self, *exc_info) -> None:
        self.abort()

    def _header(self) -> bytes:
        if not self._header_pending:
            return b""
        self._header_pending = False
        return wav_header(sample_rate=self.options.sample_rate_out, data_bytes=None)


_FILE_CODEC_ARGS = {
    "wav": ("-c:a", "pcm_s16le", "-f", "wav"),
    "pcm": ("-c:a", "pcm_s16le", "-f", "s16le"),
}


def encode_raw_file(
    raw_path: Path,
    out_path: Path,
    *,
    sample_rate_in: int,
    fmt: str,
    sample_rate_out: int | None = None,
    bitrate: int | str | None = None,
) -> None:
    """Encode a file of raw mono float32 samples into a complete ``fmt`` file at ``out_path``.

    For stored jobs of any length: ffmpeg reads the samples from disk and writes a seekable
    file, so every format gets its full header (mp3 gapless info, FLAC sample count, WAV size)
    and memory stays flat however long the audio is.
    """
    options = check_options(
        fmt=fmt, sample_rate_in=sample_rate_in, sample_rate_out=sample_rate_out, bitrate=bitrate
    )
    if options.format.name in _FILE_CODEC_ARGS:
        options = dataclasses.replace(
            options,
            format=dataclasses.replace(options.format, codec_args=_FILE_CODEC_ARGS[fmt]),
        )
    command = ffmpeg_command(options, output=f"file:{out_path}", streaming=False)
    seconds = raw_path.stat().st_size / 4 / options.sample_rate_in
    timeout = FFMPEG_TIMEOUT_S + FFMPEG_TIMEOUT_PER_AUDIO_SECOND * seconds
    try:
        with raw_path.open("rb") as source:
            result = subprocess.run(
                command, stdin=source, capture_output=True, timeout=timeout, check=False
            )
    except FileNotFoundError as error:
        raise EncodingError(_ffmpeg_failure("missing", fmt)) from error
    except subprocess.TimeoutExpired as error:
        raise EncodingError(_ffmpeg_failure("timeout", fmt, seconds=timeout)) from error
    if result.returncode != 0 or not out_path.exists():
        raise EncodingError(_ffmpeg_failure("failed", fmt, stderr=result.stderr))
