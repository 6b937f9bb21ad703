"""A synthesis worker must not report an engine ready while the watermark is on and cannot
load (Perth silently becomes None when one of its imports fails)."""

from __future__ import annotations

import sys

import pytest

from provenance import watermark
from synthesis.engines import runtime
from synthesis.models import EngineStatusRecord
from synthesis.workers.status import engine_load_and_publish
from tests.support.toy_engine.engine import ToyEngine

PERTH_MODULE = "perth.perth_net.perth_net_implicit.perth_watermarker"


@pytest.fixture
def perth_broken(monkeypatch):
    monkeypatch.setitem(sys.modules, PERTH_MODULE, None)  # "import" now raises ImportError
    monkeypatch.setattr(watermark, "_instance", None)
    monkeypatch.setattr(runtime, "_engines", {})


@pytest.mark.django_db
def test_engine_not_ready_when_the_watermark_cannot_load(perth_broken):
    status = engine_load_and_publish("toy")
    assert not status.ready
    assert "Perth watermarker cannot be imported" in status.reason
    assert "PROVENANCE_WATERMARK=false" in status.fix and "requirements/worker.txt" in status.fix
    record = EngineStatusRecord.objects.get(engine="toy")
    assert not record.ready and record.reason == status.reason


@pytest.mark.django_db
def test_ready_when_the_operator_turned_the_watermark_off(perth_broken, settings):
    settings.PROVENANCE_WATERMARK = False
    assert engine_load_and_publish("toy").ready


@pytest.mark.django_db
def test_engines_that_mark_themselves_are_not_held_back(perth_broken, monkeypatch):
    monkeypatch.setattr(ToyEngine, "watermarks_itself", True)
    assert engine_load_and_publish("toy").ready


def test_the_hook_refuses_to_pass_audio_unmarked(perth_broken):
    import numpy as np

    from provenance.hooks import mark_audio

    with pytest.raises(watermark.WatermarkUnavailable):
        mark_audio(np.zeros(1600, dtype=np.float32), sample_rate=16_000, engine="toy")
