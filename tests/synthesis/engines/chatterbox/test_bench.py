"""`manage.py bench_chatterbox` runs end to end on the tiny checkpoint and prints its JSON."""

from __future__ import annotations

import json

import pytest
from django.core.management import call_command

pytestmark = pytest.mark.slow


def test_bench_chatterbox_quick_run_prints_json(chatterbox_tiny_dir, tmp_path, capsys):
    out = tmp_path / "bench.json"
    call_command(
        "bench_chatterbox",
        checkpoint=chatterbox_tiny_dir,
        chars=40,
        tokens=4,
        device="cpu",
        out=out,
    )
    printed = capsys.readouterr().out
    report = json.loads(out.read_text())
    start = printed.index('{\n  "')  # upstream prints a line of its own before
    assert json.loads(printed[start : printed.index("\n}", start) + 2]) == report
    assert report["chunks"] == 1 and report["tokens_cap_per_call"] == 4
    assert report["engine"]["audio_s"] > 0 and report["stock"]["audio_s"] > 0
    assert report["conditioning"]["stock_per_request_s"] > report["conditioning"]["stored_load_s"]
    # Stock generate leaks its alignment hooks (three per call); this engine leaves none.
    assert report["leaked_alignment_hooks_after_stock"] >= 3
    assert "throughput (audio s / wall s)" in printed
