"""`manage.py provenance_keys`: a trial chain c2pa accepts, announced as untrusted."""

from __future__ import annotations

import io
import shutil
from types import SimpleNamespace

import pytest
from django.core.management import CommandError, call_command

from provenance import credentials


def test_writes_an_untrusted_chain_that_signs_and_reads_back(tmp_path, settings):
    out = io.StringIO()
    call_command("provenance_keys", out=str(tmp_path), stdout=out)
    text = out.getvalue()
    assert "UNTRUSTED" in text
    key, chain, root = (
        tmp_path / n for n in ("signer-key.pem", "signer-chain.pem", "trial-root.pem")
    )
    assert key.stat().st_mode & 0o777 == 0o600
    assert chain.read_text().count("BEGIN CERTIFICATE") == 2
    assert f"PROVENANCE_C2PA_KEY={key}" in text

    settings.PROVENANCE_C2PA_KEY, settings.PROVENANCE_C2PA_CERT = str(key), str(chain)
    settings.PROVENANCE_C2PA_TRUST_ANCHORS = str(root)
    assert credentials.signing_state()["signed"]
    assert credentials.provenance_state()["content_credentials"] == "signed (ES256)"
    wav = tmp_path / "out.wav"
    import numpy as np
    import soundfile as sf

    sf.write(wav, np.zeros(8000, dtype=np.float32), 16_000)
    job = SimpleNamespace(code="00000000-0000-0000-0000-000000000001", voice=None, created_at=None)
    assert credentials.credentials_sign(wav, job=job)
    assert credentials.credentials_read(wav, mime="audio/wav")["validation_state"] == "Trusted"
    settings.PROVENANCE_C2PA_TRUST_ANCHORS = str(tmp_path / "none.pem")
    assert credentials.credentials_read(wav, mime="audio/wav")["validation_state"] == "Valid"

    with pytest.raises(CommandError, match="--force"):
        call_command("provenance_keys", out=str(tmp_path), stdout=io.StringIO())
    call_command("provenance_keys", out=str(tmp_path), force=True, stdout=io.StringIO())


def test_without_a_key_outputs_stay_unsigned(tmp_path, settings):
    settings.PROVENANCE_C2PA_KEY = str(tmp_path / "missing-key.pem")
    state = credentials.signing_state()
    assert not state["signed"] and "provenance_keys" in state["reason"]
    # What /health/ready shows under checks.workers.provenance: informative, not a failure.
    assert credentials.provenance_state()["content_credentials"] == "unsigned"
    wav = tmp_path / "out.wav"
    shutil.copy(__file__, wav)  # not even audio: never touched when signing is off
    before = wav.read_bytes()
    job = SimpleNamespace(code="x", voice=None, created_at=None)
    assert not credentials.credentials_sign(wav, job=job)
    assert wav.read_bytes() == before


def test_formats_without_a_manifest_are_left_alone(tmp_path):
    for ext in ("opus", "aac", "pcm", "ulaw", "alaw"):
        path = tmp_path / f"out.{ext}"
        path.write_bytes(b"audio")
        assert not credentials.credentials_sign(path, job=SimpleNamespace(code="x"))


def test_if_missing_writes_once_and_then_leaves_the_files_alone(tmp_path):
    """`make run` calls it on every start: the first start writes a chain, later ones keep it."""
    call_command("provenance_keys", out=str(tmp_path), if_missing=True, stdout=io.StringIO())
    key = tmp_path / "signer-key.pem"
    first = key.read_bytes()
    out = io.StringIO()
    call_command("provenance_keys", out=str(tmp_path), if_missing=True, stdout=out)
    assert "there already" in out.getvalue()
    assert key.read_bytes() == first
    (tmp_path / "trial-root.pem").unlink()  # half a set is refused, never silently mixed
    with pytest.raises(CommandError, match="--force"):
        call_command("provenance_keys", out=str(tmp_path), if_missing=True, stdout=io.StringIO())
