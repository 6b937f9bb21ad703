"""Turning XTTS GPT latents into audio: whole-sequence and linear-cost streaming decodes.

The HiFi-GAN decoder first stretches the latents (one per 1,024 samples at 22,050 Hz) with
two linear interpolations, x4 to its 256-sample hop and x24000/22050 to the output rate,
(three with a speed change, which coqui applies to the latents first), then runs a purely
convolutional generator that upsamples each frame ("z frame") into 256 output samples.

Coqui's `inference_stream` re-decodes the whole sequence at every chunk (quadratic). The
streaming decoder here decodes only new z frames plus context on both sides and keeps the
samples of the new frames. It is exact, not approximate, because:

- interpolation is recomputed from global indices with PyTorch's own formula (source
  index = (dst + 0.5) / scale - 0.5, as float32), so a window's z frames are the very frames
  the whole-sequence decode computes; plain windowed `F.interpolate` would shift the
  24 kHz grid by a fraction of a sample (24000/22050 is not an integer);
- the generator is convolutional with a finite receptive field (measured and computed:
  about 14 z frames each side, see CONTEXT_Z_FRAMES), so samples further than that from a
  window's edges do not depend on what lies beyond the window.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch.nn.utils import parametrize

# Samples each z frame becomes: the HiFi-GAN upsampling factors 8 * 8 * 2 * 2.
HOP = 256

# Context decoded on each side of the new frames, in z frames (one latent = 4.35 z frames).
# The generator's one-sided receptive field is 13.3 z frames (conv_pre 3 + first transposed
# conv 1 + first MRF stage 60/8 + later stages 60/64 + 60/128 + 60/256 + small terms), so 16
# leaves a margin; tests/synthesis/engines measure the streamed/whole difference.
CONTEXT_Z_FRAMES = 16


def stretch_latents(latents: torch.Tensor, *, length_scale: float) -> torch.Tensor:
    """Coqui's speed change: linear interpolation of [B, T, C] latents along time."""
    if length_scale == 1.0:
        return latents
    return F.interpolate(
        latents.transpose(1, 2), scale_factor=length_scale, mode="linear"
    ).transpose(1, 2)


def decode_whole(decoder, latents: torch.Tensor, speaker: torch.Tensor) -> torch.Tensor:
    """Decode [1, T, C] latents at once, exactly as coqui does; returns float32 [samples]."""
    with parametrize.cached():
        return decoder(latents, g=speaker).reshape(-1).float()


@dataclass(frozen=True)
class _Stage:
    """One linear interpolation (`F.interpolate`, align_corners=False) along time."""

    scale: float

    def _inverse(self) -> torch.Tensor:
        # PyTorch passes 1 / scale_factor to its kernel and computes in float32.
        return torch.tensor(1.0 / self.scale, dtype=torch.float32)

    def out_len(self, in_len: int) -> int:
        return math.floor(float(in_len * self.scale))

    def sources(self, dst: torch.Tensor, in_len: int | None):
        """Source indices i0, i1 and weight of i1 for output indices `dst`.

        `in_len` None means the input is still growing: i1 = i0 + 1 is then always right,
        because callers only ask for outputs whose i0 + 1 already exists.
        """
        src = self._inverse() * (dst.to(torch.float32) + 0.5) - 0.5
        src = src.clamp(min=0.0)
        i0 = src.to(torch.int64)
        lam = (src - i0.to(torch.float32)).clamp(0.0, 1.0)
        i1 = i0 + 1 if in_len is None else torch.where(i0 < in_len - 1, i0 + 1, i0)
        return i0, i1, lam

    def known(self, available: int) -> int:
        """How many outputs are final when `available` inputs exist and more may come."""
        if available < 2:
            return 0
        # Outputs whose two sources exist; never more than the length `available` inputs
        # give, because the input may end right now (the final length is at least that).
        upper = self.out_len(available)
        i0, _, _ = self.sources(torch.arange(upper), None)
        return int((i0 + 1 <= available - 1).sum())


class _Chain:
    """The interpolations from latents to z frames, evaluated on any output window."""

    def __init__(self, *, length_scale: float, input_rate: int, output_rate: int) -> None:
        stages = [] if length_scale == 1.0 else [_Stage(length_scale)]
        self.stages = [*stages, _Stage(4.0), _Stage(output_rate / input_rate)]

    def total(self, n_latents: int) -> int:
        length = n_latents
        for stage in self.stages:
            length = stage.out_len(length)
        return length

    def known(self, n_latents: int) -> int:
        known = n_latents
        for stage in self.stages:
            known = stage.known(known)
        return known

    def window(self, latents: torch.Tensor, start: int, stop: int, *, final: bool):
        """z frames [start, stop) as [stop - start, C], from all latents so far ([T, C]).

        Walks back through the stages to find the input range each one needs, then
        interpolates forward over those ranges only (cost linear in the window).
        """
        lengths = [latents.shape[0]]
        for stage in self.stages[:-1]:
            lengths.append(stage.out_len(lengths[-1]))
        plans, dst = [], torch.arange(start, stop)
        for stage, in_len in zip(reversed(self.stages), reversed(lengths), strict=True):
            i0, i1, lam = stage.sources(dst, in_len if final else None)
            first = int(i0.min())
            plans.append((i0 - first, i1 - first, lam))
            dst = torch.arange(first, int(i1.max()) + 1)
        values = latents[int(dst[0]) : int(dst[-1]) + 1]
        for i0, i1, lam in reversed(plans):
            weight = lam.to(device=values.device, dtype=values.dtype)[:, None]
            values = (
                values[i0.to(values.device)] * (1 - weight) + values[i1.to(values.device)] * weight
            )
        return values


class StreamingDecoder:
    """Feed latents as they are generated; get back only the audio they newly settle.

    `push()` returns the samples of z frames that no future latent can change (their
    interpolation sources exist and CONTEXT_Z_FRAMES of settled frames follow them);
    `finish()` returns the rest. Each call decodes the new frames plus context on both sides,
    so total work is linear in the length. Joined, the pieces equal `decode_whole` of the
    same latents up to float rounding.
    """

    def __init__(
        self,
        *,
        decoder,
        speaker: torch.Tensor,
        length_scale: float = 1.0,
        context: int = CONTEXT_Z_FRAMES,
    ) -> None:
        self.decoder = decoder
        self.speaker = speaker
        self.context = context
        self.chain = _Chain(
            length_scale=length_scale,
            input_rate=decoder.input_sample_rate,
            output_rate=decoder.output_sample_rate,
        )
        self.latents: torch.Tensor | None = None
        self.emitted = 0  # z frames whose samples were returned

    def push(self, latents: torch.Tensor) -> np.ndarray:
        """Add [T, C] latents; return the float32 samples that became final (maybe none)."""
        self._append(latents)
        settled = self.chain.known(self.latents.shape[0])
        end = settled - self.context  # keep right context that is itself settled
        if end <= self.emitted:
            return np.zeros(0, dtype=np.float32)
        return self._decode(end=end, window_end=end + self.context, final=False)

    def finish(self, latents: torch.Tensor | None = None) -> np.ndarray:
        """Add the last latents (optional) and return all samples not yet returned."""
        if latents is not None:
            self._append(latents)
        if self.latents is None:
            return np.zeros(0, dtype=np.float32)
        total = self.chain.total(self.latents.shape[0])
        if total <= self.emitted:
            return np.zeros(0, dtype=np.float32)
        return self._decode(end=total, window_end=total, final=True)

    def _append(self, latents: torch.Tensor) -> None:
        latents = latents.detach().float()
        self.latents = latents if self.latents is None else torch.cat([self.latents, latents])

    def _decode(self, *, end: int, window_end: int, final: bool) -> np.ndarray:
        window_start = max(0, self.emitted - self.context)
        z = self.chain.window(self.latents, window_start, window_end, final=final)
        with parametrize.cached():
            wav = self.decoder.waveform_decoder(z.T[None], g=self.speaker).reshape(-1)
        keep = wav[(self.emitted - window_start) * HOP : (end - window_start) * HOP]
        self.emitted = end
        return keep.float().cpu().numpy()
