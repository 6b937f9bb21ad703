"""`make bench` (second part): Chatterbox through this engine against stock generate()."""

import json
import time
from datetime import UTC, datetime
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = (
        "Benchmark the Chatterbox engine against stock ChatterboxMultilingualTTS.generate on "
        "one random-weight checkpoint: throughput, time to first audio, conditioning cost."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--checkpoint",
            type=Path,
            help="model dir (default: a random-weight checkpoint of --size, made once in the "
            "data dir)",
        )
        parser.add_argument("--size", choices=["tiny", "full"], default="full")
        parser.add_argument("--chars", type=int, default=1500)
        parser.add_argument(
            "--tokens", type=int, default=40, help="speech-token cap per call, both sides"
        )
        parser.add_argument("--device", choices=["auto", "cpu", "cuda"], default="auto")
        parser.add_argument("--seed", type=int, default=1234)
        parser.add_argument("--out", type=Path, default=None)

    def handle(self, *args, **opts):
        from synthesis.jobs import bench_chatterbox

        model_dir = opts["checkpoint"] or self._checkpoint(opts["size"])
        reference = Path(settings.DATA_DIR) / "bench-reference-chatterbox.wav"
        _write_reference(reference)
        started = time.monotonic()
        report = bench_chatterbox.run(
            model_dir=model_dir,
            device=opts["device"],
            characters=opts["chars"],
            cap=opts["tokens"],
            seed=opts["seed"],
            reference=reference,
        )
        report["when"] = datetime.now(UTC).isoformat()
        report["bench_s"] = time.monotonic() - started
        out = opts["out"] or Path("bench-results") / f"bench-chatterbox-{int(time.time())}.json"
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(report, indent=2))
        self.stdout.write(json.dumps(report, indent=2))
        self.stdout.write(bench_chatterbox.table(report))
        self.stdout.write(f"\nJSON written to {out}")

    def _checkpoint(self, size: str) -> Path:
        from synthesis.engines.chatterbox.checkpoint import write_checkpoint

        path = Path(settings.DATA_DIR) / "models" / f"chatterbox-random-{size}"
        if not (path / "timbre-checkpoint.json").exists():
            self.stderr.write(f"Writing a {size} random-weight checkpoint to {path} (once)")
            write_checkpoint(size=size, out_dir=path, seed=0)
        return path


def _write_reference(path: Path) -> None:
    """An 8-second voice-like signal (S3Gen uses up to 10 s of reference, T3 up to 6 s)."""
    import numpy as np
    import soundfile as sf

    rate, seconds = 24_000, 8.0
    t = np.arange(int(rate * seconds)) / rate
    phase = 2 * np.pi * np.cumsum(130 * (1 + 0.1 * np.sin(2 * np.pi * 0.5 * t))) / rate
    voice = sum(np.sin(k * phase) / k for k in range(1, 8)) * (0.5 + 0.5 * np.sin(8 * t) ** 2)
    sf.write(path, (0.2 * voice).astype(np.float32), rate)
