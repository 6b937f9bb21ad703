"""The batched generation loop's CPU fast paths give what the plain paths give."""

from __future__ import annotations

import torch

from synthesis.engines.xtts import FACTS as XTTS
from synthesis.engines.xtts.generation import BatchGeneration, _PreallocatedLayer

TEXTS = ["A short one.", "A rather longer sentence than the first one, to force padding.", "Mid."]


def _run(engine, voice, *, per_row: bool, tokens: int | None = 12):
    latent, _ = engine._conditioning_tensors(voice)
    text_tokens = [engine._tokens(text, "en") for text in TEXTS]
    params = XTTS.params_checked({"seed": 7, "max_new_tokens": tokens})
    generation = BatchGeneration(
        gpt=engine.model.gpt,
        cond_latent=latent,
        text_tokens=text_tokens,
        seeds=[7, 8, 9],
        settings=engine._settings(params),
    )
    generation.per_row_prefill = per_row
    return generation.run()


def test_per_row_prefill_matches_one_padded_pass(xtts_engine, voice):
    for tokens in (12, None):
        rows = _run(xtts_engine, voice, per_row=True, tokens=tokens)
        batched = _run(xtts_engine, voice, per_row=False, tokens=tokens)
        for ours, theirs in zip(rows, batched, strict=True):
            assert ours.codes == theirs.codes and ours.stopped == theirs.stopped
            torch.testing.assert_close(
                torch.stack(ours.latents), torch.stack(theirs.latents), atol=1e-5, rtol=0
            )


def test_preallocated_layer_grows_and_selects_rows_like_concatenation():
    torch.manual_seed(0)
    keys, values = torch.randn(3, 2, 5, 4), torch.randn(3, 2, 5, 4)
    layer = _PreallocatedLayer(keys, values, capacity=6)
    expected_k, expected_v = keys, values
    for _ in range(4):  # past the capacity: reallocates
        new_k, new_v = torch.randn(3, 2, 1, 4), torch.randn(3, 2, 1, 4)
        got_k, got_v = layer.update(new_k, new_v)
        expected_k = torch.cat([expected_k, new_k], dim=-2)
        expected_v = torch.cat([expected_v, new_v], dim=-2)
        assert torch.equal(got_k, expected_k) and torch.equal(got_v, expected_v)
    assert layer.get_seq_length() == 9
    layer.batch_select_indices(torch.tensor([0, 2]))
    assert torch.equal(layer.keys, expected_k[[0, 2]])
    assert torch.equal(layer.values, expected_v[[0, 2]])
