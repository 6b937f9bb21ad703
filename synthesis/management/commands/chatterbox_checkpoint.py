"""Write a random-weight Chatterbox Multilingual checkpoint in the real layout (tests, bench)."""

import time
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError


class Command(BaseCommand):
    help = (
        "Write ve.pt, t3_mtl23ls_v2.safetensors, s3gen.pt and "
        "grapheme_mtl_merged_expanded_v1.json with random weights: `full` has the released "
        "shapes (~3 GB), `tiny` a 14-layer T3 with a narrow MLP (~1.4 GB) for tests."
    )

    def add_arguments(self, parser):
        parser.add_argument("--size", choices=["tiny", "full"], default="tiny")
        parser.add_argument("--out", required=True, type=Path)
        parser.add_argument("--seed", type=int, default=0)
        parser.add_argument("--force", action="store_true", help="overwrite an existing one")

    def handle(self, *args, size, out, seed, force, **options):
        from synthesis.engines.chatterbox.checkpoint import write_checkpoint
        from synthesis.engines.chatterbox.loading import read_marker

        if (out / "t3_mtl23ls_v2.safetensors").exists() and not force:
            raise CommandError(f"{out} already holds a checkpoint; pass --force to overwrite it.")
        started = time.monotonic()
        path = write_checkpoint(size=size, out_dir=out, seed=seed)
        counts = read_marker(path)["parameters"]
        self.stdout.write(
            self.style.SUCCESS(
                f"Wrote a {size} random-weight Chatterbox checkpoint to {path} "
                f"({sum(counts.values()):,} parameters: {counts}) "
                f"in {time.monotonic() - started:.1f} s."
            )
        )
