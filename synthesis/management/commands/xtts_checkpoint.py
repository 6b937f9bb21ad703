"""Write a random-weight XTTS checkpoint in the real on-disk layout (tests and benchmarks)."""

import time
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError


class Command(BaseCommand):
    help = (
        "Write config.json, model.pth and vocab.json with random weights: `tiny` for tests, "
        "`full` for benchmarks (the released model's shapes, 481 M parameters, ~1.9 GB)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--size", choices=["tiny", "full"], default="tiny")
        parser.add_argument("--out", required=True, type=Path)
        parser.add_argument("--seed", type=int, default=0)
        parser.add_argument("--force", action="store_true", help="overwrite an existing one")

    def handle(self, *args, size, out, seed, force, **options):
        from synthesis.engines.xtts.checkpoint import write_checkpoint

        if (out / "model.pth").exists() and not force:
            raise CommandError(f"{out} already holds a checkpoint; pass --force to overwrite it.")
        started = time.monotonic()
        path = write_checkpoint(size=size, out_dir=out, seed=seed)
        self.stdout.write(
            self.style.SUCCESS(
                f"Wrote a {size} random-weight XTTS checkpoint to {path} "
                f"in {time.monotonic() - started:.1f} s."
            )
        )
