"""Batched, incremental XTTS GPT token generation with a KV cache.

Coqui's `Xtts.inference` generates one text at a time through Hugging Face `generate`.
This loop drives the same `GPT2InferenceModel` (so DeepSpeed-injected kernels still apply)
for several texts at once and yields every step, which serves both batched synthesis and
streaming.

Batching rules that keep a text's output independent of its batch:

- The prefix of each row ([conditioning latents | text embeddings]) is built unpadded, so
  text position embeddings start at 0 for every row, then rows are LEFT-padded with zero
  embeddings that the attention mask hides. The GPT's own position embeddings are null
  (XTTS adds learned ones itself), so padding shifts nothing.
- Every row samples from its own `torch.Generator` seeded with the request seed, so the
  random draws of a row do not depend on which other rows share the batch.
- Logits go through Hugging Face's own processors in `generate`'s order (repetition
  penalty, stop masking, temperature, top-k, top-p), over the same ids `generate` sees.
  They work row by row, so rows with different settings run in one batch: the rows of
  each setting go through that setting's processors together.
- Rows may have different conditioning latents (voices): each prefix carries its own, and
  the CPU prefill runs each distinct latent through the GPT once.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from transformers import (
    DynamicCache,
    LogitsProcessorList,
    RepetitionPenaltyLogitsProcessor,
    TemperatureLogitsWarper,
    TopKLogitsWarper,
    TopPLogitsWarper,
)
from transformers.cache_utils import DynamicLayer

# Id coqui puts in the placeholder input ids that stand for the prefix embeddings.
_PREFIX_PLACEHOLDER_ID = 1

# Key/value positions reserved beyond the current length when a cache layer (re)allocates.
_CACHE_HEADROOM = 128


@dataclass(frozen=True)
class SamplingSettings:
    """How to pick tokens. `fixed_tokens` forbids the stop token until that many are made."""

    temperature: float
    top_k: int
    top_p: float
    repetition_penalty: float
    max_tokens: int
    fixed_tokens: int | None = None


@dataclass
class RowResult:
    """What one text produced: audio codes and the GPT latents the vocoder turns into sound.

    Follows coqui exactly: n codes stopped by the cap give n latent frames (states at
    [start, c1..c(n-1)]); n codes ended by the stop token give n + 1 frames (the state at the
    last code, which predicted the stop, is kept), as `Xtts.inference` and `inference_stream` do.
    """

    codes: list[int] = field(default_factory=list)
    latents: list[torch.Tensor] = field(default_factory=list)
    stopped: bool = False


@dataclass(frozen=True)
class Step:
    """One generation step: for each still-active row, its new token (or None) and latent."""

    rows: list[int]
    tokens: list[int | None]
    latents: torch.Tensor  # [len(rows), D]


def prefix_embedding(gpt, cond_latent: torch.Tensor, text_tokens: torch.Tensor) -> torch.Tensor:
    """[1, P, D] prefix of one row, built exactly like `GPT.compute_embeddings`."""
    tokens = F.pad(text_tokens.view(1, -1), (0, 1), value=gpt.stop_text_token)
    tokens = F.pad(tokens, (1, 0), value=gpt.start_text_token)
    emb = gpt.text_embedding(tokens) + gpt.text_pos_embedding(tokens)
    return torch.cat([cond_latent.to(emb.dtype), emb], dim=1)


def _left_pad(prefixes: list[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
    """Stack [1, P_i, D] prefixes into [B, P, D] left-padded with zeros, plus a [B, P] mask."""
    width = max(prefix.shape[1] for prefix in prefixes)
    padded = [F.pad(prefix, (0, 0, width - prefix.shape[1], 0)) for prefix in prefixes]
    mask = torch.zeros(len(prefixes), width, dtype=torch.long, device=prefixes[0].device)
    for row, prefix in enumerate(prefixes):
        mask[row, width - prefix.shape[1] :] = 1
    return torch.cat(padded, dim=0), mask


class _PreallocatedLayer(DynamicLayer):
    """A KV-cache layer that writes new keys/values into reserved space instead of `torch.cat`.

    Hugging Face's `DynamicLayer` copies the whole cache at every step (cost quadratic in the
    length, a quarter of a batched CPU step at ~150 positions). Here `keys`/`values` are views
    of the first `length` positions of larger buffers: attention reads exactly the same numbers.
    """

    def __init__(self, keys: torch.Tensor, values: torch.Tensor, capacity: int) -> None:
        super().__init__()
        self.dtype, self.device = keys.dtype, keys.device
        self.is_initialized = True
        self.length = 0
        self._keys = self._values = None
        self._store(keys, values, capacity)

    @classmethod
    def left_padded(cls, rows: list, *, width: int, capacity: int) -> _PreallocatedLayer:
        """One layer for a batch from single-row layers, right-aligned to `width` positions.

        Pad positions hold zeros; the attention mask hides them.
        """
        first = rows[0].keys
        batch, (_, heads, _, dim) = len(rows), first.shape
        keys = first.new_zeros(batch, heads, width, dim)
        values = first.new_zeros(batch, heads, width, rows[0].values.shape[-1])
        for index, row in enumerate(rows):
            length = row.keys.shape[-2]
            keys[index, :, width - length :] = row.keys[0]
            values[index, :, width - length :] = row.values[0]
        return cls(keys, values, capacity)

    @classmethod
    def adopt(cls, keys: torch.Tensor, values: torch.Tensor, length: int) -> _PreallocatedLayer:
        """A layer over buffers already laid out ([B, H, capacity, D], first `length` filled)."""
        layer = cls.__new__(cls)
        DynamicLayer.__init__(layer)
        layer.dtype, layer.device = keys.dtype, keys.device
        layer.is_initialized = True
        layer._keys, layer._values = keys, values
        layer._view(length)
        return layer

    def _store(self, keys: torch.Tensor, values: torch.Tensor, capacity: int) -> None:
        batch, heads, length, dim = keys.shape
        self._keys = keys.new_empty(batch, heads, capacity, dim)
        self._values = values.new_empty(batch, heads, capacity, values.shape[-1])
        self._keys[:, :, :length] = keys
        self._values[:, :, :length] = values
        self._view(length)

    def _view(self, length: int) -> None:
        self.length = length
        self.keys = self._keys[:, :, :length]
        self.values = self._values[:, :, :length]

    def update(self, key_states: torch.Tensor, value_states: torch.Tensor, *args, **kwargs):
        end = self.length + key_states.shape[-2]
        if end > self._keys.shape[-2]:
            self._store(self.keys, self.values, end + _CACHE_HEADROOM)
        self._keys[:, :, self.length : end] = key_states
        self._values[:, :, self.length : end] = value_states
        self._view(end)
        return self.keys, self.values

    def get_seq_length(self) -> int:
        return self.length

    def crop(self, tokens_to_remove: int) -> None:
        raise NotImplementedError("preallocated generation caches are never cropped")

    def batch_repeat_interleave(self, repeats: int) -> None:
        raise NotImplementedError("preallocated generation caches are never repeated")

    def batch_select_indices(self, indices: torch.Tensor) -> None:
        self._keys, self._values = self._keys[indices], self._values[indices]
        self._view(self.length)


@dataclass(frozen=True)
class _Prefilled:
    """What the first forward returns, shaped like the model's output where `_step` reads it."""

    logits: torch.Tensor  # [B, 1, V]
    hidden_states: tuple[torch.Tensor, ...]  # last: [B, 1, D]
    past_key_values: DynamicCache


def _preallocate(cache: DynamicCache, capacity: int) -> DynamicCache:
    """Swap the cache's layers (filled by the prefix pass) for preallocated ones, in place."""
    cache.layers = [
        _PreallocatedLayer(layer.keys, layer.values, max(capacity, layer.get_seq_length()))
        for layer in cache.layers
    ]
    return cache


def _processors(settings: SamplingSettings) -> LogitsProcessorList:
    processors = LogitsProcessorList()
    if settings.repetition_penalty != 1.0:
        processors.append(RepetitionPenaltyLogitsProcessor(penalty=settings.repetition_penalty))
    if settings.temperature != 1.0:
        processors.append(TemperatureLogitsWarper(settings.temperature))
    if settings.top_k:
        processors.append(TopKLogitsWarper(top_k=settings.top_k, min_tokens_to_keep=1))
    if settings.top_p < 1.0:
        processors.append(TopPLogitsWarper(top_p=settings.top_p, min_tokens_to_keep=1))
    return processors


class BatchGeneration:
    """One batched generation run; iterate `steps()` to drive it.

    `gpt` is coqui's `GPT` after `init_gpt_for_inference`. `seeds` gives one seed per row;
    `cond_latent` and `settings` are one for all rows or a list with one per row.
    """

    def __init__(
        self,
        *,
        gpt,
        cond_latent: torch.Tensor | list[torch.Tensor],
        text_tokens: list[torch.Tensor],
        seeds: list[int],
        settings: SamplingSettings | list[SamplingSettings],
        autocast: bool = False,
    ) -> None:
        batch = len(text_tokens)
        self.gpt = gpt
        self.autocast = autocast
        self.last_tokens: list[int] = []
        self.row_latents = cond_latent if isinstance(cond_latent, list) else [cond_latent] * batch
        self.row_settings = settings if isinstance(settings, list) else [settings] * batch
        if not len(self.row_latents) == len(self.row_settings) == len(seeds) == batch:
            raise ValueError("one conditioning latent, setting and seed per row")
        self.device = self.row_latents[0].device
        self.processors = {s: _processors(s) for s in self.row_settings}
        self.stop = gpt.stop_audio_token
        with torch.inference_mode():
            prefixes = [
                prefix_embedding(gpt, latent, tokens)
                for latent, tokens in zip(self.row_latents, text_tokens, strict=True)
            ]
            self.prefix, prefix_mask = _left_pad(prefixes)
        self.row_prefixes = prefixes
        start = torch.full((batch, 1), 1, dtype=torch.long, device=self.device)
        self.mask = torch.cat([prefix_mask, start], dim=1)
        # Without padding the mask is all ones; passing None then lets the model take its
        # plain causal attention path, as coqui's generate does (transformers drops such masks).
        self.padded = bool((prefix_mask == 0).any())
        # The ids `generate` would see: placeholders for the prefix, then the start token.
        self.ids = torch.full_like(self.mask, _PREFIX_PLACEHOLDER_ID)
        self.ids[:, -1] = gpt.start_audio_token
        # Per-row prefill (see `_prefill`) on the CPU; tests flip it to compare both paths.
        self.per_row_prefill = self.device.type == "cpu" and not autocast
        self.generators = [self._generator(seed) for seed in seeds]
        self.results = [RowResult() for _ in text_tokens]

    def _generator(self, seed: int) -> torch.Generator:
        generator = torch.Generator(device=self.device)
        generator.manual_seed(seed)
        return generator

    def run(self) -> list[RowResult]:
        """Generate to the end and return one result per row."""
        for _ in self.steps():
            pass
        return self.results

    def steps(self) -> Iterator[Step]:
        """Yield each step; `self.results` is complete when the iterator ends.

        Inference mode is entered per step, never across a `yield`, so the caller's code
        between steps does not run in it.
        """
        inference = self.gpt.gpt_inference
        active = list(range(len(self.results)))
        with self._guard():
            inference.store_prefix_emb(self.prefix)
            out = self._prefill(inference)
            step = self._step(out, active)
        while True:
            yield step
            keep = [i for i, row in enumerate(active) if not self._done(row)]
            if not keep:
                return
            with self._guard():
                active, next_ids = self._advance(out, active, keep)
                out = self._forward(inference, next_ids, out.past_key_values)
                step = self._step(out, active)

    def _prefill(self, inference):
        """The first forward: every row's prefix plus its start token, into a KV cache.

        On CUDA, one padded batched pass. On the CPU, where that pass is compute-bound, each
        distinct conditioning latent (one per voice) goes through the GPT once, then each row's
        text alone on top of its voice's, so no work goes into padding or repeated conditioning;
        the rows' caches are then laid out left-padded exactly as the batched pass lays them out.
        """
        capacity = self.ids.shape[1] + self._headroom()
        if not self.per_row_prefill:
            out = self._forward(inference, self.ids, None)
            _preallocate(out.past_key_values, capacity)
            return out
        transformer = inference.transformer
        conds = {}
        for latent in self.row_latents:
            if id(latent) not in conds:
                conds[id(latent)] = transformer(
                    inputs_embeds=latent, use_cache=True, return_dict=True
                ).past_key_values
        start = self.gpt.mel_embedding(
            torch.full((1, 1), self.gpt.start_audio_token, dtype=torch.long, device=self.device)
        )
        start = start + inference.pos_embedding(start)
        width = self.ids.shape[1]
        caches, hidden = [], []
        for prefix, latent in zip(self.row_prefixes, self.row_latents, strict=True):
            cache = DynamicCache()
            for index, layer in enumerate(conds[id(latent)].layers):
                cache.update(layer.keys, layer.values, index)
            text = torch.cat([prefix[:, latent.shape[1] :], start], dim=1)
            row = transformer(
                inputs_embeds=text, past_key_values=cache, use_cache=True, return_dict=True
            )
            caches.append(cache)
            hidden.append(row.last_hidden_state[:, -1:])
        merged = DynamicCache()
        merged.layers = [
            _PreallocatedLayer.left_padded(
                [cache.layers[index] for cache in caches], width=width, capacity=capacity
            )
            for index in range(len(caches[0].layers))
        ]
        hidden_states = torch.cat(hidden, dim=0)
        return _Prefilled(
            logits=inference.lm_head(hidden_states),
            hidden_states=(hidden_states,),
            past_key_values=merged,
        )

    def _headroom(self) -> int:
        """Cache positions to reserve after the prefix: the whole run when its length is fixed."""
        return max(
            s.fixed_tokens + 1 if s.fixed_tokens is not None else _CACHE_HEADROOM
            for s in self.row_settings
        )

    def _guard(self) -> contextlib.ExitStack:
        stack = contextlib.ExitStack()
        stack.enter_context(torch.inference_mode())
        if self.autocast:
            stack.enter_context(torch.autocast(device_type="cuda", dtype=torch.float16))
        return stack

    def _step(self, out, active: list[int]) -> Step:
        latents = self.gpt.final_norm(out.hidden_states[-1][:, -1]).float()
        tokens = self._sample(out.logits[:, -1].float(), active)
        self.last_tokens = tokens
        return Step(
            rows=list(active), tokens=self._record(active, tokens, latents), latents=latents
        )

    def _advance(self, out, active: list[int], keep: list[int]):
        """Append the sampled tokens; drop finished rows from the batch and the KV cache."""
        next_ids = torch.tensor(self.last_tokens, dtype=torch.long, device=self.device)[:, None]
        self.ids = torch.cat([self.ids, next_ids], dim=1)
        self.mask = torch.cat([self.mask, torch.ones_like(next_ids)], dim=1)
        if len(keep) < len(active):
            index = torch.tensor(keep, device=self.device)
            out.past_key_values.batch_select_indices(index)
            self.ids, self.mask, next_ids = self.ids[index], self.mask[index], next_ids[index]
            active = [active[i] for i in keep]
        return active, next_ids

    def _forward(self, inference, input_ids: torch.Tensor, cache):
        return inference(
            input_ids=input_ids,
            attention_mask=self.mask if self.padded else None,
            past_key_values=cache,
            use_cache=True,
            output_hidden_states=True,
            return_dict=True,
        )

    def _sample(self, logits: torch.Tensor, active: list[int]) -> list[int]:
        groups: dict[SamplingSettings, list[int]] = {}
        for i, row in enumerate(active):
            groups.setdefault(self.row_settings[row], []).append(i)
        tokens = [0] * len(active)
        for settings, members in groups.items():
            if len(members) == len(active):
                scores = self.processors[settings](self.ids, logits)
            else:
                index = torch.tensor(members, device=self.device)
                scores = self.processors[settings](self.ids[index], logits[index])
            if settings.fixed_tokens is not None:
                # Like HF's min_new_tokens: the stop token is impossible until `fixed` codes exist.
                scores[:, self.stop] = -float("inf")
            probs = torch.softmax(scores, dim=-1)
            for j, i in enumerate(members):
                generator = self.generators[active[i]]
                tokens[i] = int(torch.multinomial(probs[j], 1, generator=generator))
        return tokens

    def _record(self, active: list[int], tokens: list[int], latents: torch.Tensor):
        step_tokens: list[int | None] = []
        for i, row in enumerate(active):
            result = self.results[row]
            result.latents.append(latents[i])
            if tokens[i] == self.stop:
                result.stopped = True
                step_tokens.append(None)
            else:
                result.codes.append(tokens[i])
                step_tokens.append(tokens[i])
        return step_tokens

    def finished(self, row: int) -> bool:
        """Has `row` made its last token (its result is complete)?"""
        return self._done(row)

    def _done(self, row: int) -> bool:
        result = self.results[row]
        settings = self.row_settings[row]
        limit = settings.fixed_tokens or settings.max_tokens
        return result.stopped or len(result.codes) >= limit
