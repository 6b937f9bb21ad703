"""Chatterbox Multilingual (chatterbox-tts 0.1.7) behind the Engine interface.

Pure Python + torch, configured by arguments; the worker builds it from settings
(`from_settings`). Weights load only through upstream's `ChatterboxMultilingualTTS.from_local`.
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

from ..base import Conditioning, Engine, EngineUnavailable, SynthesisParams
from ..loaded import LoadsOnce
from . import CHAR_LIMITS, FACTS
from . import generation as gen
from .loading import FIX_MODEL_SOURCE, check_model_dir, download_released, load_model, pick_device
from .loading import model_version as checkpoint_version

logger = logging.getLogger(__name__)

SEED_MODULUS = 2**63
S3GEN_SR = 24_000
# Conditioning array names: T3's (voice-encoder embedding, speech-token prompt) and S3Gen's
# reference dict. Ints stay ints, floats stay float32: a stored file reloads bit-for-bit.
T3_KEYS = ("speaker_emb", "cond_prompt_speech_tokens")
GEN_KEYS = ("prompt_token", "prompt_token_len", "prompt_feat", "prompt_feat_len", "embedding")


class ChatterboxEngine(LoadsOnce, Engine):
    """Chatterbox Multilingual from a model directory or a one-time download.

    One text at a time (upstream's T3 inference assumes batch size 1; the CFG pair already
    fills its batch of two). Text i of a request samples with the global torch RNG seeded
    with seed + i and restored after, so order and batching do not change any output.
    """

    name = "chatterbox"
    max_batch_size = 1
    watermarks_itself = False  # generate() would; this engine does not call it

    def __init__(
        self,
        model_dir: Path | None,
        *,
        download: bool = False,
        download_dir: Path | None = None,
        device: Literal["auto", "cpu", "cuda"] = "auto",
        max_new_tokens: int = 1000,
    ) -> None:
        if max_new_tokens < 1:
            raise ValueError("max_new_tokens must be at least 1")
        self.model_dir = Path(model_dir) if model_dir else None
        self.download = download
        self.download_dir = Path(download_dir) if download_dir else None
        self.max_new_tokens = max_new_tokens
        self._loading_init(device)

    # -- interface ---------------------------------------------------------------------------

    @property
    def sample_rate(self) -> int:
        return S3GEN_SR

    @property
    def languages(self) -> list[str]:
        return list(CHAR_LIMITS)

    def char_limit(self, language: str) -> int:
        return CHAR_LIMITS[FACTS.resolve_language(language)]

    def compute_conditioning(self, *, wav_paths: list[Path]) -> Conditioning:
        """Upstream's `prepare_conditionals` over 1..N clean samples.

        The samples are joined end to end: S3Gen's reference takes the first 10 s of that
        and T3's speech-token prompt the first 6 s (upstream's limits), so short samples add
        up instead of the first alone counting. The voice-encoder embedding is the mean of
        one embedding per sample, as upstream's own `mean(axis=0)` over its list does.
        """
        model = self._require_model()
        conds = prepare_conditionals(model, self._samples_checked(wav_paths))
        arrays, absent = conditionals_to_arrays(conds)
        return Conditioning(
            engine=self.name,
            engine_version=self.model_version,
            params={"sample_count": len(wav_paths), "absent": absent},
            arrays=arrays,
        )

    def synthesize(
        self,
        *,
        texts: list[str],
        language: str,
        conditioning: Conditioning,
        params: SynthesisParams,
    ) -> Iterator[np.ndarray]:
        """Yield one float32 24 kHz array per text, in order."""
        params = FACTS.params_complete(params)
        language = FACTS.resolve_language(language)
        self._require_model()
        seed = self._seed(params)
        for index, text in enumerate(texts):
            yield self._render(text, language, conditioning, params, (seed + index) % SEED_MODULUS)

    def stream(
        self,
        *,
        text: str,
        language: str,
        conditioning: Conditioning,
        params: SynthesisParams,
    ) -> Iterator[np.ndarray]:
        """One piece per text (the pipeline streams sentence by sentence).

        Not inside a sentence: S3Gen's flow encoder attends over the whole token sequence,
        so decoding a growing prefix re-runs it on everything so far (quadratic), and
        upstream exposes no cache to continue from.
        """
        yield from self.synthesize(
            texts=[text], language=language, conditioning=conditioning, params=params
        )

    # -- internals ---------------------------------------------------------------------------

    def _render(self, text, language, conditioning, params, seed) -> np.ndarray:
        if not text.strip():
            raise ValueError("cannot synthesize an empty text chunk")
        sampling = gen.Sampling(
            exaggeration=params.exaggeration,
            cfg_weight=params.cfg_weight,
            temperature=params.temperature,
            repetition_penalty=params.repetition_penalty,
            min_p=params.min_p,
            top_p=params.top_p,
            max_new_tokens=min(params.max_new_tokens or self.max_new_tokens, self.max_new_tokens),
            seed=seed,
        )
        t3_cond, ref_dict = self.conditionals(conditioning, exaggeration=params.exaggeration)
        tokens = gen.text_tokens(self.model, text, language)
        with gen.seeded(seed, self.device):
            speech = gen.speech_tokens(
                self.model, t3_cond=t3_cond, tokens=tokens, sampling=sampling
            )
            wav = gen.vocode(self.model, speech, ref_dict)
        return gen.time_stretch(wav, params.speed)

    def conditionals(self, conditioning: Conditioning, *, exaggeration: float):
        """(T3Cond, S3Gen ref dict) on this engine's device, from stored arrays (cheap)."""
        from chatterbox.models.t3.modules.cond_enc import T3Cond

        self._require_model()
        if conditioning.engine != self.name:
            raise ValueError(f"conditioning was made by {conditioning.engine!r}, not chatterbox")
        if conditioning.engine_version != self.model_version:
            logger.warning(
                "conditioning made with %s used with %s",
                conditioning.engine_version,
                self.model_version,
            )
        tensors = arrays_to_tensors(conditioning, self.device)
        t3_cond = T3Cond(
            speaker_emb=tensors["t3.speaker_emb"],
            cond_prompt_speech_tokens=tensors["t3.cond_prompt_speech_tokens"],
            emotion_adv=exaggeration * torch.ones(1, 1, 1, device=self.device),
        )
        return t3_cond, {key: tensors.get(f"gen.{key}") for key in GEN_KEYS}

    def _load(self) -> None:
        if self.model_dir is not None:
            model_dir = check_model_dir(self.model_dir)
        elif self.download:
            model_dir = download_released(download_dir=self.download_dir)
        else:
            raise EngineUnavailable("No Chatterbox model is configured.", fix=FIX_MODEL_SOURCE)
        device = pick_device(self.requested_device)
        started = time.perf_counter()
        try:
            model = load_model(model_dir=model_dir, device=device)
        except Exception as exc:
            raise EngineUnavailable(
                f"Loading the Chatterbox checkpoint in {model_dir} failed: {exc}",
                fix="Point CHATTERBOX_MODEL_DIR at a Chatterbox Multilingual checkpoint "
                "(ResembleAI/chatterbox: ve.pt, t3_mtl23ls_v2.safetensors, s3gen.pt, "
                "grapheme_mtl_merged_expanded_v1.json from the same release)",
            ) from exc
        self.model_version = checkpoint_version(model_dir)
        self.device = torch.device(device)
        self.model = model
        self.load_seconds = time.perf_counter() - started
        self._failure = None
        logger.info(
            "Chatterbox %s loaded on %s in %.1f s", self.model_version, device, self.load_seconds
        )

    @staticmethod
    def _seed(params: SynthesisParams) -> int:
        return params.seed if params.seed is not None else secrets.randbelow(SEED_MODULUS)


def prepare_conditionals(model, wav_paths: list[Path]):
    """Upstream `prepare_conditionals` for several samples (see compute_conditioning)."""
    import librosa
    from chatterbox.models.s3tokenizer import S3_SR
    from chatterbox.models.t3.modules.cond_enc import T3Cond
    from chatterbox.mtl_tts import Conditionals

    wavs_24k = [librosa.load(str(path), sr=S3GEN_SR)[0] for path in wav_paths]
    wavs_16k = [librosa.resample(w, orig_sr=S3GEN_SR, target_sr=S3_SR) for w in wavs_24k]
    joined_24k, joined_16k = np.concatenate(wavs_24k), np.concatenate(wavs_16k)
    with torch.inference_mode():
        ref_dict = model.s3gen.embed_ref(
            joined_24k[: model.DEC_COND_LEN], S3GEN_SR, device=model.device
        )
        prompt, _ = model.s3gen.tokenizer.forward(
            [joined_16k[: model.ENC_COND_LEN]], max_len=model.t3.hp.speech_cond_prompt_len
        )
        embeds = model.ve.embeds_from_wavs(wavs_16k, sample_rate=S3_SR)
    speaker = torch.from_numpy(embeds).mean(axis=0, keepdim=True)
    t3_cond = T3Cond(
        speaker_emb=speaker.to(model.device),
        cond_prompt_speech_tokens=torch.atleast_2d(prompt).to(model.device),
    )
    return Conditionals(t3_cond, ref_dict)


def conditionals_to_arrays(conds) -> tuple[dict[str, np.ndarray], list[str]]:
    """Numpy copies of every tensor of upstream Conditionals (t3.* and gen.*), dtype kept;
    plus the names that were None (S3Gen leaves prompt_feat_len unset)."""
    arrays, absent = {}, []
    sources = [("t3", key, getattr(conds.t3, key)) for key in T3_KEYS]
    sources += [("gen", key, conds.gen.get(key)) for key in GEN_KEYS]
    for group, key, value in sources:
        if value is None:
            absent.append(f"{group}.{key}")
        else:
            arrays[f"{group}.{key}"] = value.detach().cpu().numpy().copy()
    return arrays, absent


def arrays_to_tensors(conditioning: Conditioning, device: torch.device) -> dict[str, torch.Tensor]:
    """The stored arrays as tensors on `device`; ValueError when one is missing."""
    absent = set(conditioning.params.get("absent", []))
    wanted = [f"t3.{k}" for k in T3_KEYS] + [f"gen.{k}" for k in GEN_KEYS]
    missing = [name for name in wanted if name not in conditioning.arrays and name not in absent]
    if missing:
        raise ValueError(f"Chatterbox conditioning lacks {', '.join(missing)}")
    return {
        name: torch.from_numpy(np.array(array)).to(device)
        for name, array in conditioning.arrays.items()
        if name in wanted
    }


def from_settings(settings) -> ChatterboxEngine:
    """The engine as a synthesis worker configures it (CHATTERBOX_* and TIMBRE_DEVICE)."""
    return ChatterboxEngine(
        model_dir=settings.CHATTERBOX_MODEL_DIR or None,
        download=settings.CHATTERBOX_DOWNLOAD,
        download_dir=settings.CHATTERBOX_DOWNLOAD_DIR,
        device=settings.TIMBRE_DEVICE,
        max_new_tokens=settings.CHATTERBOX_MAX_NEW_TOKENS,
    )
