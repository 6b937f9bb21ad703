"""XTTS v2 (coqui-tts) behind the Engine interface: batched synthesis, linear-cost streaming.

Pure Python + torch, configured by arguments; the worker builds it from settings.
"""

from __future__ import annotations

import logging
import secrets
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Literal

import numpy as np
import torch

from ..base import (
    SEED_MODULUS,
    CharAlignment,
    Conditioning,
    Engine,
    EngineUnavailable,
    Row,
    SynthesisParams,
)
from ..loaded import LoadsOnce
from . import FACTS
from . import stock as xtts_stock
from .attention import chunk_alignment_or_none
from .generation import BatchGeneration, RowResult, SamplingSettings
from .languages import (
    CHAR_LIMITS,
    LANGUAGES,
    base_language,
    language_unavailable_reason,
)
from .loading import (
    FIX_MODEL_SOURCE,
    check_model_dir,
    deepspeed_usable,
    download_released,
    load_model,
    model_version,
    pick_device,
)
from .rows import XttsRowStepper, prepare_row, rows_generated
from .vocoder import StreamingDecoder, decode_whole, stretch_latents

logger = logging.getLogger(__name__)


class XttsEngine(LoadsOnce, Engine):
    """XTTS v2 from a model directory, or from the released weights once the licence is accepted.

    Up to `max_batch_size` texts are generated together; on CUDA out-of-memory the batch is
    halved and retried, and `batch_limit` stays at the size that fitted. Outputs do not depend
    on batching: text i of a request samples with its own generator seeded with seed + i.
    `stream_chunk_size` tokens (46.4 ms of audio each) are generated between streamed pieces.
    """

    name = "xtts"

    def __init__(
        self,
        model_dir: Path | None,
        *,
        download_dir: Path | None = None,
        accept_license: bool = False,
        device: Literal["auto", "cpu", "cuda"] = "auto",
        half: bool = False,
        use_deepspeed: bool = False,
        max_batch_size: int = 8,
        stream_chunk_size: int = 20,
    ) -> None:
        if max_batch_size < 1 or stream_chunk_size < 1:
            raise ValueError("max_batch_size and stream_chunk_size must be at least 1")
        self.model_dir = Path(model_dir) if model_dir is not None else None
        self.download_dir = Path(download_dir) if download_dir is not None else None
        self.accept_license = accept_license
        self._loading_init(device)
        self.half = half
        self.use_deepspeed = use_deepspeed
        self.max_batch_size = max_batch_size
        self.stream_chunk_size = stream_chunk_size
        # Texts generated together; lowered for the rest of the process after an OOM.
        self.batch_limit = max_batch_size
        self.deepspeed = False  # DeepSpeed kernels in use (set by load)

    # -- interface ---------------------------------------------------------------------------

    @property
    def sample_rate(self) -> int:
        return 24000 if self.model is None else int(self.model.args.output_sample_rate)

    @property
    def languages(self) -> list[str]:
        return list(LANGUAGES)

    def char_limit(self, language: str) -> int:
        base = base_language(language)
        if base not in CHAR_LIMITS:
            raise ValueError(f"XTTS does not speak {language!r}")
        return CHAR_LIMITS[base]

    def compute_conditioning(self, *, wav_paths: list[Path]) -> Conditioning:
        """Conditioning from 1..N clean WAV samples (coqui's `get_conditioning_latents`).

        Uses the checkpoint config's gpt_cond_len / gpt_cond_chunk_len / max_ref_len, as
        coqui's own `synthesize` does; they are recorded in `params`.
        """
        model = self._require_model()
        wav_paths = self._samples_checked(wav_paths)
        settings = {
            "max_ref_length": int(model.config.max_ref_len),
            "gpt_cond_len": int(model.config.gpt_cond_len),
            "gpt_cond_chunk_len": int(model.config.gpt_cond_chunk_len),
            "sound_norm_refs": bool(model.config.sound_norm_refs),
        }
        try:
            latent, speaker = model.get_conditioning_latents(
                audio_path=[str(path) for path in wav_paths], **settings
            )
        except RuntimeError as exc:
            if "too short" in str(exc):
                raise ValueError(f"voice sample too short: {exc}") from exc
            raise
        return Conditioning(
            engine=self.name,
            engine_version=self.model_version,
            params={**settings, "sample_count": len(wav_paths)},
            arrays={
                "gpt_cond_latent": latent.detach().float().cpu().numpy(),
                "speaker_embedding": speaker.detach().float().cpu().numpy(),
            },
        )

    def synthesize(
        self,
        *,
        texts: list[str],
        language: str,
        conditioning: Conditioning,
        params: SynthesisParams,
    ) -> Iterator[np.ndarray]:
        """Yield one float32 24 kHz array per text, in order; texts are generated in batches."""
        for _, _, audio in self._rendered(texts, language, conditioning, params):
            yield audio

    def synthesize_aligned(
        self,
        *,
        texts: list[str],
        language: str,
        conditioning: Conditioning,
        params: SynthesisParams,
    ) -> Iterator[tuple[np.ndarray, CharAlignment | None]]:
        """`synthesize`, with each text's character times from the GPT's attention
        (synthesis.engines.xtts.attention; one extra GPT pass per text)."""
        latent, _ = self._conditioning_tensors(conditioning)
        for index, (tokens, result), audio in self._rendered(texts, language, conditioning, params):
            yield audio, self._alignment(latent, tokens, result, texts[index], audio.size)

    def _rendered(self, texts, language, conditioning, params):
        """(index, (tokens, RowResult), audio) of each text, in order, generated in batches."""
        params = FACTS.params_complete(params)
        tokens = [self._tokens(text, language) for text in texts]
        latent, speaker = self._conditioning_tensors(conditioning)
        seed = self._seed(params)
        start = 0
        while start < len(texts):
            rows = list(range(start, min(start + self.batch_limit, len(texts))))
            results = self._generate_rows(latent, tokens, rows, seed, params)
            start += len(rows)
            for row, result in zip(rows, results, strict=True):
                yield row, (tokens[row], result), self._decode(result, speaker, params)

    def synthesize_rows(self, rows: list[Row]) -> Iterator[tuple[int, np.ndarray]]:
        """Rows of any voices, languages and sampling settings in one batched GPT run.

        Up to `batch_limit` rows generate together; each row is vocoded with its own speaker
        embedding and yielded as soon as its last token is made. A row samples with its own
        generator seeded with `row.seed`, so its audio equals the row rendered alone. Every
        row is checked before any generation starts (a bad row raises ValueError at once).
        """
        voices: dict = {}
        prepared = [prepare_row(self, row, voices) for row in rows]
        start = 0
        while start < len(rows):
            chunk = list(range(start, min(start + self.batch_limit, len(rows))))
            yield from rows_generated(self, prepared, chunk)
            start += len(chunk)

    def row_stepper(self) -> XttsRowStepper | None:
        """Token-level continuous batching (synthesis.engines.xtts.continuous). None with
        DeepSpeed: its injected kernels keep their own KV cache, which a batch whose rows come
        and go cannot use (unverified here; a scheduler then calls `synthesize_rows`)."""
        self._require_model()
        return None if self.deepspeed else XttsRowStepper(self)

    def _alignment(self, latent, tokens, result: RowResult, text: str, samples: int):
        return chunk_alignment_or_none(
            model=self.model,
            cond_latent=latent,
            text_tokens=tokens,
            codes=result.codes,
            frames=len(result.latents),
            text=text,
            seconds=samples / self.sample_rate,
        )

    def stream(
        self,
        *,
        text: str,
        language: str,
        conditioning: Conditioning,
        params: SynthesisParams,
    ) -> Iterator[np.ndarray]:
        """Yield float32 24 kHz pieces of one text while it is generated (linear cost).

        Every `stream_chunk_size` tokens, only the new latents (plus vocoder context) are
        decoded; joined, the pieces equal `synthesize` of the same text and seed.
        """
        yield from self._streamed(text, language, conditioning, params, aligned=False)

    def stream_aligned(
        self,
        *,
        text: str,
        language: str,
        conditioning: Conditioning,
        params: SynthesisParams,
    ) -> Iterator[np.ndarray | CharAlignment]:
        """`stream`, then the text's CharAlignment from the GPT's attention (if it can tell)."""
        yield from self._streamed(text, language, conditioning, params, aligned=True)

    def _streamed(self, text, language, conditioning, params, *, aligned: bool):
        params = FACTS.params_complete(params)
        tokens = self._tokens(text, language)
        latent, speaker = self._conditioning_tensors(conditioning)
        decoder = StreamingDecoder(
            decoder=self.model.hifigan_decoder, speaker=speaker, length_scale=1.0 / params.speed
        )
        run = self._generation(latent, [tokens], [self._seed(params)], params)
        pending: list[torch.Tensor] = []
        samples = 0
        for step in run.steps():
            pending.append(step.latents)
            if len(pending) >= self.stream_chunk_size:
                piece = self._push(decoder, pending)
                pending = []
                if piece.size:
                    samples += piece.size
                    yield piece
        piece = self._finish(decoder, pending)
        if piece.size:
            samples += piece.size
            yield piece
        if aligned:
            alignment = self._alignment(latent, tokens, run.results[0], text, samples)
            if alignment is not None:
                yield alignment

    # -- stock coqui paths, for benchmarks ---------------------------------------------------

    def stock_inference(
        self, *, text: str, language: str, conditioning: Conditioning, params: SynthesisParams
    ) -> np.ndarray:
        """Coqui's own `Xtts.inference` (one text, no batching), same sampling settings."""
        params = FACTS.params_complete(params)
        latent, speaker = self._conditioning_tensors(conditioning)
        return xtts_stock.stock_inference(
            self.model,
            text=text,
            language=base_language(language),
            latent=latent,
            speaker=speaker,
            params=params,
            seed=self._seed(params),
        )

    def stock_inference_stream(
        self,
        *,
        text: str,
        language: str,
        conditioning: Conditioning,
        params: SynthesisParams,
    ) -> Iterator[np.ndarray]:
        """Coqui's own `Xtts.inference_stream` (re-decodes everything at each chunk)."""
        params = FACTS.params_complete(params)
        latent, speaker = self._conditioning_tensors(conditioning)
        return xtts_stock.stock_inference_stream(
            self.model,
            text=text,
            language=base_language(language),
            latent=latent,
            speaker=speaker,
            params=params,
            seed=self._seed(params),
            chunk_size=self.stream_chunk_size,
        )

    # -- internals ---------------------------------------------------------------------------

    def _load(self) -> None:
        if self.model_dir is not None:
            model_dir = check_model_dir(self.model_dir)
        elif self.accept_license:
            model_dir = download_released(download_dir=self.download_dir)
        else:
            raise EngineUnavailable("No XTTS model is configured.", fix=FIX_MODEL_SOURCE)
        device = pick_device(self.requested_device)
        started = time.perf_counter()
        try:
            deepspeed = deepspeed_usable(wanted=self.use_deepspeed, device=device)
            model = load_model(model_dir=model_dir, device=device, use_deepspeed=deepspeed)
        except Exception as exc:
            raise EngineUnavailable(
                f"Loading the XTTS checkpoint in {model_dir} failed: {exc}",
                fix="Point XTTS_MODEL_DIR at an XTTS v2 checkpoint written for coqui-tts 0.28 "
                "(config.json, model.pth, vocab.json from the same release)",
            ) from exc
        self.model_version = model_version(model_dir)
        self.deepspeed = deepspeed
        self.device = device
        self.model = model
        self.load_seconds = time.perf_counter() - started
        self._failure = None
        logger.info("XTTS %s loaded on %s in %.1f s", self.model_version, device, self.load_seconds)

    def _tokens(self, text: str, language: str) -> torch.Tensor:
        model = self._require_model()
        reason = language_unavailable_reason(language)
        if reason:
            raise ValueError(reason)
        if not text.strip():
            raise ValueError("cannot synthesize an empty text chunk")
        # Coqui's inference strips and lowercases each sentence before encoding.
        ids = model.tokenizer.encode(text.strip().lower(), lang=base_language(language))
        limit = model.args.gpt_max_text_tokens
        if len(ids) >= limit:
            raise ValueError(
                f"text chunk is {len(ids)} tokens; XTTS takes fewer than {limit}. Split text "
                f"into chunks of at most {self.char_limit(language)} characters."
            )
        return torch.tensor(ids, dtype=torch.long, device=self.device)

    def _conditioning_tensors(self, conditioning: Conditioning):
        model = self._require_model()
        if conditioning.engine != self.name:
            raise ValueError(f"conditioning was made by {conditioning.engine!r}, not xtts")
        if conditioning.engine_version != self.model_version:
            logger.warning(
                "conditioning made with %s used with %s",
                conditioning.engine_version,
                self.model_version,
            )
        latent = torch.from_numpy(np.asarray(conditioning.arrays["gpt_cond_latent"]))
        speaker = torch.from_numpy(np.asarray(conditioning.arrays["speaker_embedding"]))
        width, d_vector = model.args.gpt_n_model_channels, model.args.d_vector_dim
        if latent.ndim != 3 or latent.shape[0] != 1 or latent.shape[-1] != width:
            raise ValueError(
                f"gpt_cond_latent has shape {tuple(latent.shape)}; this model needs [1, N, {width}]"
            )
        if tuple(speaker.shape) != (1, d_vector, 1):
            raise ValueError(
                f"speaker_embedding has shape {tuple(speaker.shape)}; "
                f"this model needs [1, {d_vector}, 1]"
            )
        return latent.float().to(self.device), speaker.float().to(self.device)

    @staticmethod
    def _seed(params: SynthesisParams) -> int:
        return params.seed if params.seed is not None else secrets.randbelow(SEED_MODULUS)

    def _settings(self, params: SynthesisParams) -> SamplingSettings:
        cap = self.model.gpt.max_gen_mel_tokens
        if params.max_new_tokens is not None and params.max_new_tokens > cap:
            raise ValueError(f"max_new_tokens must be at most {cap} for this model")
        return SamplingSettings(
            temperature=params.temperature,
            top_k=params.top_k,
            top_p=params.top_p,
            repetition_penalty=params.repetition_penalty,
            max_tokens=cap,
            fixed_tokens=params.max_new_tokens,
        )

    def _generation(self, latent, tokens, seeds, params) -> BatchGeneration:
        return BatchGeneration(
            gpt=self.model.gpt,
            cond_latent=latent,
            text_tokens=tokens,
            seeds=seeds,
            settings=self._settings(params),
            autocast=self.half and self.device.type == "cuda",
        )

    def _generate_rows(self, latent, tokens, rows, seed, params) -> list[RowResult]:
        """Generate `rows` together; on CUDA out-of-memory, halve and retry each half."""
        try:
            seeds = [(seed + row) % SEED_MODULUS for row in rows]
            return self._generation(latent, [tokens[r] for r in rows], seeds, params).run()
        except torch.OutOfMemoryError as exc:
            if self.device.type == "cuda":
                torch.cuda.empty_cache()
            if len(rows) == 1:
                raise RuntimeError(
                    f"out of GPU memory generating one text chunk of {len(tokens[rows[0]])} "
                    "tokens; free GPU memory (fewer workers per GPU, XTTS_HALF=1) or shorten chunks"
                ) from exc
            half = len(rows) // 2
            self.batch_limit = min(self.batch_limit, half)
            logger.warning("XTTS batch of %d ran out of memory; retrying as %d", len(rows), half)
            first = self._generate_rows(latent, tokens, rows[:half], seed, params)
            return first + self._generate_rows(latent, tokens, rows[half:], seed, params)

    def _decode(self, result: RowResult, speaker, params: SynthesisParams) -> np.ndarray:
        if not result.latents:
            return np.zeros(0, dtype=np.float32)
        latents = torch.stack(result.latents)[None]
        with torch.inference_mode():
            latents = stretch_latents(latents, length_scale=1.0 / params.speed)
            wav = decode_whole(self.model.hifigan_decoder, latents, speaker)
        return wav.cpu().numpy()

    @staticmethod
    def _push(decoder: StreamingDecoder, pending: list[torch.Tensor]) -> np.ndarray:
        with torch.inference_mode():
            return decoder.push(torch.cat(pending))

    @staticmethod
    def _finish(decoder: StreamingDecoder, pending: list[torch.Tensor]) -> np.ndarray:
        with torch.inference_mode():
            return decoder.finish(torch.cat(pending) if pending else None)


def from_settings(settings) -> XttsEngine:
    """The engine as a synthesis worker configures it (the XTTS_* and TIMBRE_DEVICE settings)."""
    return XttsEngine(
        model_dir=settings.XTTS_MODEL_DIR or None,
        download_dir=settings.XTTS_DOWNLOAD_DIR,
        accept_license=settings.XTTS_ACCEPT_LICENSE,
        device=settings.TIMBRE_DEVICE,
        half=settings.XTTS_HALF,
        use_deepspeed=settings.XTTS_DEEPSPEED,
        max_batch_size=settings.XTTS_MAX_BATCH,
    )
