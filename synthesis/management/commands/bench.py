"""`make bench`: benchmark the speech engines and write a JSON report."""

import json
import time
from datetime import UTC, datetime
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Benchmark this XTTS engine against stock coqui paths (and Piper's real-time factor)."

    def add_arguments(self, parser):
        parser.add_argument(
            "--checkpoint",
            type=Path,
            help="XTTS model dir (default: a "
            "random-weight checkpoint of --size, made once in the data dir)",
        )
        parser.add_argument("--size", choices=["tiny", "full"], default="full")
        parser.add_argument("--chars", type=int, default=3000)
        parser.add_argument("--tokens", type=int, default=40, help="tokens per chunk")
        parser.add_argument("--stream-seconds", type=float, default=20.0)
        parser.add_argument(
            "--no-stock-stream",
            action="store_true",
            help="skip stock inference_stream (it is ~11x the work)",
        )
        parser.add_argument("--device", choices=["auto", "cpu", "cuda"], default="auto")
        parser.add_argument("--batch", type=int, default=settings.XTTS_MAX_BATCH)
        parser.add_argument("--out", type=Path, default=None)
        parser.add_argument("--seed", type=int, default=1234)

    def handle(self, *args, **opts):
        from synthesis.engines.xtts.engine import XttsEngine
        from synthesis.jobs import bench

        model_dir = opts["checkpoint"] or self._checkpoint(opts["size"])
        engine = XttsEngine(model_dir, device=opts["device"], max_batch_size=opts["batch"])
        load_s, _ = bench._timed(engine.load)
        report = {
            "when": datetime.now(UTC).isoformat(),
            "machine": bench.machine(),
            "checkpoint": str(model_dir),
            "device": str(engine.device),
            "load_s": load_s,
        }
        self._say(f"Loaded {model_dir} on {engine.device} in {load_s:.1f} s")
        reference = Path(settings.DATA_DIR) / "bench-reference.wav"
        _write_reference(reference)
        report["conditioning"], cond = bench.bench_conditioning(engine, reference)
        self._say("conditioning", report["conditioning"])
        text = bench.book_text(opts["chars"])
        report["throughput"] = bench.bench_throughput(
            engine, cond, text=text, tokens=opts["tokens"], seed=opts["seed"]
        )
        self._say("throughput", report["throughput"])
        report["streaming"] = bench.bench_streaming(
            engine,
            cond,
            audio_seconds=opts["stream_seconds"],
            seed=opts["seed"],
            stock=not opts["no_stock_stream"],
        )
        self._say("streaming", report["streaming"])
        report["piper"] = bench.bench_piper(text[:300])
        self._say("piper", report["piper"])
        out = opts["out"] or Path("bench-results") / f"bench-{int(time.time())}.json"
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(report, indent=2))
        self.stdout.write(_table(report))
        self.stdout.write(f"\nJSON written to {out}")

    def _checkpoint(self, size: str) -> Path:
        from synthesis.engines.xtts.checkpoint import write_checkpoint

        path = Path(settings.DATA_DIR) / "models" / f"xtts-random-{size}"
        if not (path / "model.pth").exists():
            self._say(f"Writing a {size} random-weight checkpoint to {path} (once)")
            write_checkpoint(size=size, out_dir=path, seed=0)
        return path

    def _say(self, what, data=None):
        self.stderr.write(what if data is None else f"{what}: {json.dumps(data, default=str)}")


def _write_reference(path: Path) -> None:
    import numpy as np
    import soundfile as sf

    rate, seconds = 22_050, 8.0
    t = np.arange(int(rate * seconds)) / rate
    phase = 2 * np.pi * np.cumsum(130 * (1 + 0.1 * np.sin(2 * np.pi * 0.5 * t))) / rate
    voice = sum(np.sin(k * phase) / k for k in range(1, 8)) * (0.5 + 0.5 * np.sin(8 * t) ** 2)
    sf.write(path, (0.2 * voice).astype(np.float32), rate)


def _table(r: dict) -> str:
    t, s, c, p = r["throughput"], r["streaming"], r["conditioning"], r["piper"]
    rows = [
        ("load", f"{r['load_s']:.1f} s", "", ""),
        (
            "conditioning per request / stored",
            f"{c['compute_per_request_s']:.2f} s",
            f"{c['load_stored_s'] * 1000:.1f} ms",
            f"{c['ratio']:.0f}x",
        ),
        (
            f"throughput {t['characters']} chars, "
            f"{t['chunks']} chunks x {t['tokens_per_chunk']} tok",
            f"stock {t['stock']['chars_per_s']:.1f} chars/s (RTF {t['stock']['rtf']:.2f})",
            f"engine {t['engine']['chars_per_s']:.1f} chars/s (RTF {t['engine']['rtf']:.2f})",
            f"{t['speedup']:.2f}x",
        ),
        (f"streaming {s['tokens']} tokens: non-streamed", f"{s['non_streamed_s']:.1f} s", "", ""),
        (
            "  engine stream total / first audio",
            f"{s['engine']['total_s']:.1f} s",
            f"{s['engine']['first_audio_s']:.2f} s",
            f"{s['engine']['ratio_to_non_streamed']:.2f}x of non-streamed",
        ),
        (
            "  first chunk generated + decoded alone",
            f"{s['first_chunk_non_streamed_s']:.2f} s",
            "",
            "",
        ),
    ]
    if "stock" in s:
        rows.append(
            (
                "  stock inference_stream total / first audio",
                f"{s['stock']['total_s']:.1f} s",
                f"{s['stock']['first_audio_s']:.2f} s",
                f"{s['stock']['ratio_to_non_streamed']:.2f}x of non-streamed",
            )
        )
    rows.append(
        (
            "piper stock voice RTF",
            f"{p['rtf']:.3f}",
            f"first audio {p['first_audio_seconds']:.2f} s",
            "",
        )
    )
    width = max(len(row[0]) for row in rows)
    return "\n".join(f"{a:<{width}}  {b:<36} {c_:<36} {d}" for a, b, c_, d in rows)
