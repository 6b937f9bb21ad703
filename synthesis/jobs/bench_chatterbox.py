"""Chatterbox benchmark: this engine against stock `ChatterboxMultilingualTTS.generate`.

Both run on the same checkpoint, device and text in one process, sharing one loaded model:

- throughput on ~1,500 characters, split into the same chunks for both sides; stock calls
  `generate(chunk, "en", audio_prompt_path=...)` for the first chunk (a request with a voice
  file, as upstream's API is used) and `generate(chunk, "en")` reusing its conditionals after;
- time to first audio of a request: stock, its first `generate` call (conditioning from the
  wav, generation, watermark); this engine, loading the stored .npz plus the first piece of
  `stream` on the first sentence (the pipeline streams sentence by sentence);
- conditioning per request (stock `prepare_conditionals` from the wav) against stored (load
  the .npz and rebuild the tensors).

Random weights rarely emit the stop token, so both sides get the same cap of speech tokens
per call. Stock is changed in that one respect only: its `t3.inference` is wrapped to pass
`max_new_tokens=cap` (upstream hardcodes 1000) and, because random weights emit ids S3Gen
cannot read, to drop ids >= 6561 from its output, as this engine does. Both sample from
the global torch RNG seeded identically per chunk. Stock's `generate` also applies the Perth
watermark; this engine leaves that to the job pipeline, so its watermark cost is timed
separately and reported beside.
"""

from __future__ import annotations

import contextlib
import functools
import time
from pathlib import Path

import numpy as np
import torch

from synthesis.engines.base import Conditioning
from synthesis.jobs.bench import _timed, book_text, machine
from synthesis.jobs.text import split_text


def run(
    *, model_dir: Path, device: str, characters: int, cap: int, seed: int, reference: Path
) -> dict:
    """The whole comparison as a JSON-ready dict."""
    from synthesis.engines.chatterbox import FACTS
    from synthesis.engines.chatterbox.engine import ChatterboxEngine
    from synthesis.engines.chatterbox.generation import alignment_hook_count

    engine = ChatterboxEngine(model_dir, device=device, max_new_tokens=cap)
    load_s, _ = _timed(engine.load)
    text = book_text(characters)
    chunks = [c.text for c in split_text(text, language="en", limit=engine.char_limit("en"))]
    first_sentence = split_text(chunks[0], language="en", limit=120)[0].text
    params = FACTS.params_checked({"seed": seed})
    report = {
        "machine": machine(),
        "checkpoint": str(model_dir),
        "device": str(engine.device),
        "load_s": load_s,
        "characters": len(text),
        "chunks": len(chunks),
        "tokens_cap_per_call": cap,
        "seed": seed,
    }
    compute_s, cond = _timed(lambda: engine.compute_conditioning(wav_paths=[reference]))
    stored = cond.to_npz_bytes()
    # Warm both paths once (first calls pay one-off allocations and kernel selection).
    list(engine.synthesize(texts=["Warm up."], language="en", conditioning=cond, params=params))
    report["conditioning"] = _conditioning(engine, reference, stored)
    report["conditioning"]["engine_compute_s"] = compute_s
    report["first_audio"] = _first_audio(engine, stored, first_sentence, chunks[0], reference, seed)
    report["engine"] = _engine_throughput(engine, stored, chunks, params)
    report["stock"] = _stock_throughput(engine, chunks, reference, seed, cap)
    report["speedup"] = report["stock"]["seconds"] / report["engine"]["seconds"]
    report["leaked_alignment_hooks_after_stock"] = alignment_hook_count(engine.model.t3)
    return report


def _conditioning(engine, reference: Path, stored: bytes) -> dict:
    per_request, _ = _timed(lambda: engine.model.prepare_conditionals(str(reference)))
    load_s, _ = _timed(lambda: _load_stored(engine, stored))
    return {
        "stock_per_request_s": per_request,
        "stored_load_s": load_s,
        "npz_bytes": len(stored),
        "ratio": per_request / load_s,
    }


def _load_stored(engine, stored: bytes):
    cond = Conditioning.from_npz_bytes(stored)
    return engine.conditionals(cond, exaggeration=0.5)


def _first_audio(engine, stored, sentence, first_chunk, reference, seed) -> dict:
    from synthesis.engines.chatterbox import FACTS

    started = time.perf_counter()
    cond = Conditioning.from_npz_bytes(stored)
    params = FACTS.params_checked({"seed": seed})
    pieces = engine.stream(text=sentence, language="en", conditioning=cond, params=params)
    next(iter(pieces))
    engine_s = time.perf_counter() - started
    with _capped_stock(engine.model, engine.max_new_tokens), _seeded(seed):
        stock_s, _ = _timed(
            lambda: engine.model.generate(first_chunk, "en", audio_prompt_path=str(reference))
        )
    return {"engine_s": engine_s, "stock_s": stock_s, "engine_first_text": sentence}


def _engine_throughput(engine, stored, chunks, params) -> dict:
    started = time.perf_counter()
    cond = Conditioning.from_npz_bytes(stored)
    audio = list(engine.synthesize(texts=chunks, language="en", conditioning=cond, params=params))
    seconds = time.perf_counter() - started
    joined = np.concatenate(audio) if audio else np.zeros(0, dtype=np.float32)
    mark_s, _ = _timed(lambda: engine.model.watermarker.apply_watermark(joined, sample_rate=24000))
    return _figures(seconds, joined.size / engine.sample_rate) | {"watermark_s": mark_s}


def _stock_throughput(engine, chunks, reference, seed, cap) -> dict:
    model = engine.model
    audio_samples = 0
    started = time.perf_counter()
    with _capped_stock(model, cap):
        for index, chunk in enumerate(chunks):
            prompt = str(reference) if index == 0 else None
            with _seeded(seed + index):
                wav = model.generate(chunk, "en", audio_prompt_path=prompt)
            audio_samples += wav.shape[-1]
    return _figures(time.perf_counter() - started, audio_samples / model.sr)


def _figures(seconds: float, audio_s: float) -> dict:
    return {
        "seconds": seconds,
        "audio_s": audio_s,
        "audio_s_per_wall_s": audio_s / seconds if seconds else 0.0,
    }


@contextlib.contextmanager
def _capped_stock(model, cap: int):
    """Stock generate with `max_new_tokens=cap` and S3Gen-readable ids (see module doc)."""
    from chatterbox.models.s3tokenizer import SPEECH_VOCAB_SIZE

    original = model.t3.inference

    @functools.wraps(original)
    def capped(*args, **kwargs):
        tokens = original(*args, **{**kwargs, "max_new_tokens": cap})
        return tokens[:, tokens[0] < SPEECH_VOCAB_SIZE]

    model.t3.inference = capped
    try:
        yield
    finally:
        del model.t3.inference  # the class's method again


@contextlib.contextmanager
def _seeded(seed: int):
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        yield


def table(r: dict) -> str:
    """The report as a plain-text table."""
    c, f, e, s = r["conditioning"], r["first_audio"], r["engine"], r["stock"]
    rows = [
        ("checkpoint / device", r["checkpoint"], r["device"], f"load {r['load_s']:.1f} s"),
        (
            "text",
            f"{r['characters']} chars",
            f"{r['chunks']} chunks",
            f"cap {r['tokens_cap_per_call']} tok/call",
        ),
        ("", "stock generate", "this engine", "ratio"),
        (
            "conditioning per request / stored",
            f"{c['stock_per_request_s']:.3f} s",
            f"{c['stored_load_s'] * 1000:.2f} ms",
            f"{c['ratio']:.0f}x",
        ),
        (
            "time to first audio",
            f"{f['stock_s']:.2f} s",
            f"{f['engine_s']:.2f} s",
            f"{f['stock_s'] / f['engine_s']:.2f}x",
        ),
        (
            "wall time, whole text",
            f"{s['seconds']:.1f} s",
            f"{e['seconds']:.1f} s",
            f"{r['speedup']:.2f}x",
        ),
        ("audio produced", f"{s['audio_s']:.1f} s", f"{e['audio_s']:.1f} s", ""),
        (
            "throughput (audio s / wall s)",
            f"{s['audio_s_per_wall_s']:.3f}",
            f"{e['audio_s_per_wall_s']:.3f}",
            "",
        ),
        ("  engine's Perth watermark (pipeline)", "", f"{e['watermark_s']:.2f} s", ""),
        (
            "leaked alignment hooks after stock",
            str(r["leaked_alignment_hooks_after_stock"]),
            "0",
            "-",
        ),
    ]
    width = max(len(row[0]) for row in rows)
    return "\n".join(f"{a:<{width}}  {b:<22} {c_:<22} {d}" for a, b, c_, d in rows)
