"""Speech-engine benchmark: this engine against stock coqui XTTS, on the same text and machine.

Measures (a) throughput on a ~3,000-character text: stock `Xtts.inference` sentence by sentence
vs this engine's batched generation; (b) streaming on ~20 s of audio: stock `inference_stream`
(re-decodes everything so far at each chunk) vs this engine's linear streaming, and both
against a non-streamed decode; (c) voice conditioning computed per request vs loaded once;
(d) the Piper stock voice's real-time factor. Every XTTS run generates a fixed number of tokens
per chunk (random weights rarely emit the stop token), so runs compare.
"""

from __future__ import annotations

import platform
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np

from synthesis.engines.base import Conditioning, SynthesisParams

SECONDS_PER_TOKEN = 1024 / 22_050

_SENTENCES = [
    "The lighthouse keeper climbed the spiral stairs before dawn, as he had done for years.",
    "Below him the harbour was still asleep, and the fishing boats rocked in a grey calm.",
    "He trimmed the wick, polished the great lens, and wrote the weather in his logbook.",
    "A storm had passed in the night; the rocks were dark with kelp and broken timber.",
    "Somewhere beyond the point a bell buoy rang, slow and patient, like a clock of water.",
    "By seven the first ferry had left, its wake unfolding behind it in long white lines.",
]


def book_text(characters: int) -> str:
    """English prose of about `characters` characters, in paragraphs of three sentences."""
    sentences: list[str] = []
    while sum(len(s) + 1 for s in sentences) < characters:
        sentences.append(_SENTENCES[len(sentences) % len(_SENTENCES)])
    paragraphs = [" ".join(sentences[i : i + 3]) for i in range(0, len(sentences), 3)]
    return "\n\n".join(paragraphs)


def _timed(fn: Callable[[], object]) -> tuple[float, object]:
    start = time.perf_counter()
    result = fn()
    return time.perf_counter() - start, result


def _timed_stream(pieces: Iterator[np.ndarray]) -> dict:
    start = time.perf_counter()
    first = None
    samples = 0
    count = 0
    for piece in pieces:
        if first is None:
            first = time.perf_counter() - start
        samples += piece.size
        count += 1
    return {
        "first_audio_s": first,
        "total_s": time.perf_counter() - start,
        "samples": samples,
        "pieces": count,
    }


def bench_conditioning(engine, reference: Path) -> tuple[dict, Conditioning]:
    compute_s, cond = _timed(lambda: engine.compute_conditioning(wav_paths=[reference]))
    data = cond.to_npz_bytes()
    load_s, _ = _timed(lambda: Conditioning.from_npz_bytes(data))
    return {
        "compute_per_request_s": compute_s,
        "load_stored_s": load_s,
        "npz_bytes": len(data),
        "ratio": compute_s / load_s,
    }, cond


def bench_throughput(engine, cond: Conditioning, *, text: str, tokens: int, seed: int) -> dict:
    from synthesis.jobs.text import split_text

    chunks = [c.text for c in split_text(text, language="en", limit=engine.char_limit("en"))]
    params = SynthesisParams(seed=seed, max_new_tokens=tokens)
    stock_s, stock_audio = _timed(
        lambda: [
            engine.stock_inference(text=chunk, language="en", conditioning=cond, params=params)
            for chunk in chunks
        ]
    )
    ours_s, ours_audio = _timed(
        lambda: list(
            engine.synthesize(texts=chunks, language="en", conditioning=cond, params=params)
        )
    )
    audio_s = sum(a.size for a in ours_audio) / engine.sample_rate
    stock_audio_s = sum(a.size for a in stock_audio) / engine.sample_rate
    return {
        "characters": len(text),
        "chunks": len(chunks),
        "tokens_per_chunk": tokens,
        "batch_size": engine.max_batch_size,
        "stock": {
            "seconds": stock_s,
            "chars_per_s": len(text) / stock_s,
            "audio_s": stock_audio_s,
            "rtf": stock_s / stock_audio_s,
        },
        "engine": {
            "seconds": ours_s,
            "chars_per_s": len(text) / ours_s,
            "audio_s": audio_s,
            "rtf": ours_s / audio_s,
        },
        "speedup": stock_s / ours_s,
    }


def bench_streaming(
    engine, cond: Conditioning, *, audio_seconds: float, seed: int, stock: bool
) -> dict:
    tokens = round(audio_seconds / SECONDS_PER_TOKEN)
    text = " ".join(_SENTENCES[:2])
    params = SynthesisParams(seed=seed, max_new_tokens=tokens)
    args = {"text": text, "language": "en", "conditioning": cond, "params": params}
    whole_s, _ = _timed(
        lambda: list(
            engine.synthesize(texts=[text], language="en", conditioning=cond, params=params)
        )
    )
    ours = _timed_stream(engine.stream(**args))
    result = {
        "tokens": tokens,
        "stream_chunk_tokens": engine.stream_chunk_size,
        "non_streamed_s": whole_s,
        "engine": {**ours, "ratio_to_non_streamed": ours["total_s"] / whole_s},
    }
    # What the first piece should cost: the first chunk's tokens plus one decode of them.
    first_params = SynthesisParams(seed=seed, max_new_tokens=engine.stream_chunk_size)
    first_s, _ = _timed(
        lambda: list(
            engine.synthesize(texts=[text], language="en", conditioning=cond, params=first_params)
        )
    )
    result["first_chunk_non_streamed_s"] = first_s
    if stock:
        theirs = _timed_stream(engine.stock_inference_stream(**args))
        result["stock"] = {**theirs, "ratio_to_non_streamed": theirs["total_s"] / whole_s}
        result["total_speedup"] = theirs["total_s"] / ours["total_s"]
    return result


def bench_piper(text: str) -> dict:
    from synthesis.engines.piper.engine import PiperEngine, measure_rtf

    return measure_rtf(PiperEngine(), text)


def machine() -> dict:
    import torch

    info = {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "cpu_threads": torch.get_num_threads(),
        "processor": platform.machine(),
    }
    if torch.cuda.is_available():
        info["gpu"] = torch.cuda.get_device_name(0)
    return info
