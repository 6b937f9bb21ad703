"""Continuous batching of XTTS GPT generation: rows join and leave at any step boundary.

`BatchGeneration` runs a fixed set of rows to the end. Here the batch changes between steps,
so a finished row's slot is refilled at the very next token:

- A new row is prefilled alone ([conditioning | text | start], the conditioning pass shared by
  rows of one voice admitted together), samples its first token from its own logits, then
  its KV cache joins the batch's, everything right-aligned to a common width: the shorter
  side is left-padded with zeros that the attention mask hides (exactly as `BatchGeneration`
  lays out rows of different prefix lengths).
- Rows then sit at different audio positions, which coqui's `GPT2InferenceModel.forward`
  cannot express (it takes one position for the whole batch from the cache length). Each
  step therefore embeds the tokens itself, adding each row's own learned position embedding
  (`mel_pos_embedding.emb[k]` for a row's k-th token, the same lookup coqui makes), and calls
  the transformer and the head directly.
- Finished and dropped rows leave the cache by `batch_select_indices`.

Sampling follows `BatchGeneration` (per-row generators and processors), so a row makes the
same tokens whenever it joins and whoever shares its steps.
"""

from __future__ import annotations

import contextlib
from collections.abc import Hashable
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from transformers import DynamicCache

from .generation import (
    _CACHE_HEADROOM,
    _PREFIX_PLACEHOLDER_ID,
    RowResult,
    SamplingSettings,
    _PreallocatedLayer,
    _processors,
    prefix_embedding,
)


@dataclass
class _Row:
    key: Hashable
    settings: SamplingSettings
    generator: torch.Generator
    result: RowResult = field(default_factory=RowResult)
    pending: int = 0  # the token sampled last, fed at the next step


@dataclass(frozen=True)
class _Admission:
    key: Hashable
    cond_latent: torch.Tensor
    text_tokens: torch.Tensor
    seed: int
    settings: SamplingSettings


class ContinuousGeneration:
    """A batch of GPT rows that changes between steps. Not thread-safe: one engine thread.

    `admit` queues a row for the next step, `drop` removes one, `step` advances every row by
    one token and returns the (key, RowResult) of rows that finished.
    """

    def __init__(self, *, gpt, device: torch.device, autocast: bool = False) -> None:
        self.gpt = gpt
        self.device = device
        self.autocast = autocast
        self.rows: list[_Row] = []
        self.waiting: list[_Admission] = []
        self.cache: DynamicCache | None = None
        self.mask: torch.Tensor | None = None  # [B, W]
        self.ids: torch.Tensor | None = None  # [B, W] ids the processors see
        self.processors: dict[SamplingSettings, object] = {}

    def __len__(self) -> int:
        return len(self.rows) + len(self.waiting)

    def admit(self, key, *, cond_latent, text_tokens, seed: int, settings: SamplingSettings):
        self.waiting.append(_Admission(key, cond_latent, text_tokens, seed, settings))

    def drop(self, keys: set) -> None:
        """Remove rows (running or waiting) whose key is in `keys`."""
        self.waiting = [item for item in self.waiting if item.key not in keys]
        keep = [i for i, row in enumerate(self.rows) if row.key not in keys]
        if len(keep) < len(self.rows):
            self._select(keep)

    def step(self) -> list[tuple[Hashable, RowResult]]:
        """One token for every running row; waiting rows join with their first token."""
        with self._guard():
            if self.rows:
                self._advance()
            if self.waiting:
                self._join(self.waiting)
                self.waiting = []
            finished = [i for i, row in enumerate(self.rows) if self._done(row)]
            results = [(self.rows[i].key, self.rows[i].result) for i in finished]
            if finished:
                self._select([i for i in range(len(self.rows)) if i not in set(finished)])
        return results

    # -- internals -----------------------------------------------------------------------------

    def _guard(self) -> contextlib.ExitStack:
        stack = contextlib.ExitStack()
        stack.enter_context(torch.inference_mode())
        if self.autocast:
            stack.enter_context(torch.autocast(device_type="cuda", dtype=torch.float16))
        return stack

    def _advance(self) -> None:
        """Feed every running row its pending token at its own audio position."""
        gpt, inference = self.gpt, self.gpt.gpt_inference
        tokens = torch.tensor([row.pending for row in self.rows], device=self.device)[:, None]
        positions = torch.tensor([len(row.result.codes) for row in self.rows], device=self.device)
        self.ids = torch.cat([self.ids, tokens], dim=1)
        self.mask = torch.cat([self.mask, torch.ones_like(tokens)], dim=1)
        emb = inference.embeddings(tokens) + inference.pos_embedding.emb(positions)[:, None]
        out = inference.transformer(
            inputs_embeds=emb,
            past_key_values=self.cache,
            attention_mask=self.mask,
            use_cache=True,
            return_dict=True,
        )
        hidden = out.last_hidden_state[:, -1]
        logits = inference.lm_head(hidden)
        self._sample_and_record(self.rows, self.ids, logits, gpt.final_norm(hidden).float())

    def _join(self, admissions: list[_Admission]) -> None:
        """Prefill each new row alone, sample its first token, then merge it into the batch."""
        gpt, inference = self.gpt, self.gpt.gpt_inference
        transformer = inference.transformer
        conds: dict[int, DynamicCache] = {}
        start = gpt.mel_embedding(
            torch.full((1, 1), gpt.start_audio_token, dtype=torch.long, device=self.device)
        )
        start = start + inference.pos_embedding.emb(
            torch.zeros(1, dtype=torch.long, device=self.device)
        )
        new_rows, caches, ids, hidden = [], [], [], []
        for item in admissions:
            latent = item.cond_latent
            if id(latent) not in conds:
                conds[id(latent)] = transformer(
                    inputs_embeds=latent, use_cache=True, return_dict=True
                ).past_key_values
            cache = DynamicCache()
            for index, layer in enumerate(conds[id(latent)].layers):
                cache.update(layer.keys, layer.values, index)
            prefix = prefix_embedding(gpt, latent, item.text_tokens)
            text = torch.cat([prefix[:, latent.shape[1] :], start], dim=1)
            out = transformer(
                inputs_embeds=text, past_key_values=cache, use_cache=True, return_dict=True
            )
            width = prefix.shape[1] + 1
            row_ids = torch.full((1, width), _PREFIX_PLACEHOLDER_ID, device=self.device)
            row_ids[:, -1] = gpt.start_audio_token
            generator = torch.Generator(device=self.device)
            generator.manual_seed(item.seed)
            new_rows.append(_Row(key=item.key, settings=item.settings, generator=generator))
            caches.append(cache)
            ids.append(row_ids)
            hidden.append(out.last_hidden_state[:, -1])
            self.processors.setdefault(item.settings, _processors(item.settings))
        hidden = torch.cat(hidden, dim=0)
        logits = inference.lm_head(hidden)
        for row, row_ids, h, lg in zip(new_rows, ids, hidden, logits, strict=True):
            self._sample_and_record([row], row_ids, lg[None], gpt.final_norm(h[None]).float())
        self._merge(new_rows, caches, ids)

    def _merge(self, new_rows: list[_Row], caches: list[DynamicCache], ids: list) -> None:
        widths = [row_ids.shape[1] for row_ids in ids]
        old = self.mask.shape[1] if self.rows else 0
        width = max([old, *widths])
        parts_ids, parts_mask = [], []
        if self.rows:
            parts_ids.append(F.pad(self.ids, (width - old, 0), value=_PREFIX_PLACEHOLDER_ID))
            parts_mask.append(F.pad(self.mask, (width - old, 0), value=0))
        for row_ids, w in zip(ids, widths, strict=True):
            parts_ids.append(F.pad(row_ids, (width - w, 0), value=_PREFIX_PLACEHOLDER_ID))
            parts_mask.append(F.pad(torch.ones_like(row_ids), (width - w, 0), value=0))
        layers = [
            _merged_layer(
                self.cache.layers[index] if self.rows else None,
                [cache.layers[index] for cache in caches],
                width=width,
            )
            for index in range(len(caches[0].layers))
        ]
        cache = DynamicCache()
        cache.layers = layers
        self.cache = cache
        self.ids = torch.cat(parts_ids, dim=0)
        self.mask = torch.cat(parts_mask, dim=0)
        self.rows = [*self.rows, *new_rows]

    def _select(self, keep: list[int]) -> None:
        self.rows = [self.rows[i] for i in keep]
        if not keep:
            self.cache = self.mask = self.ids = None
            return
        index = torch.tensor(keep, device=self.device)
        self.cache.batch_select_indices(index)
        self.mask, self.ids = self.mask[index], self.ids[index]

    def _sample_and_record(self, rows: list[_Row], ids, logits, latents) -> None:
        groups: dict[SamplingSettings, list[int]] = {}
        for i, row in enumerate(rows):
            groups.setdefault(row.settings, []).append(i)
        for settings, members in groups.items():
            index = torch.tensor(members, device=self.device)
            processors = self.processors.setdefault(settings, _processors(settings))
            if len(members) == len(rows):
                scores = processors(ids, logits.float())
            else:
                scores = processors(ids[index], logits.float()[index])
            if settings.fixed_tokens is not None:
                scores[:, self.gpt.stop_audio_token] = -float("inf")
            probs = torch.softmax(scores, dim=-1)
            for j, i in enumerate(members):
                row = rows[i]
                token = int(torch.multinomial(probs[j], 1, generator=row.generator))
                row.result.latents.append(latents[i])
                if token == self.gpt.stop_audio_token:
                    row.result.stopped = True
                else:
                    row.result.codes.append(token)
                row.pending = token

    @staticmethod
    def _done(row: _Row) -> bool:
        limit = row.settings.fixed_tokens or row.settings.max_tokens
        return row.result.stopped or len(row.result.codes) >= limit


def _merged_layer(old: _PreallocatedLayer | None, singles: list, *, width: int):
    """The running rows (one block) and new single-row layers, right-aligned to `width` in
    one new buffer (zeros on the left, hidden by the mask): one copy per merge for the block."""
    first = singles[0]
    _, heads, _, dim = first.keys.shape
    before = 0 if old is None else old.keys.shape[0]
    shape = (before + len(singles), heads, width + _CACHE_HEADROOM)
    keys = first.keys.new_zeros(*shape, dim)
    values = first.values.new_zeros(*shape, first.values.shape[-1])
    if old is not None:
        length = old.keys.shape[-2]
        keys[:before, :, width - length : width] = old.keys
        values[:before, :, width - length : width] = old.values
    for row, layer in enumerate(singles, start=before):
        length = layer.keys.shape[-2]
        keys[row, :, width - length : width] = layer.keys[0]
        values[row, :, width - length : width] = layer.values[0]
    return _PreallocatedLayer.adopt(keys, values, width)
