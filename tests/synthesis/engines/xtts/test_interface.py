"""The engine interface types: torch-free, Django-free."""

from __future__ import annotations

import io
import subprocess
import sys
import zipfile

import numpy as np
import pytest

from synthesis.engines import engine_class
from synthesis.engines.base import (
    Conditioning,
    EngineStatus,
    EngineUnavailable,
    SynthesisParams,
    blend,
)
from synthesis.engines.xtts import FACTS as XTTS


def _cond(value: float, *, engine="xtts", version="v1", width=8) -> Conditioning:
    return Conditioning(
        engine=engine,
        engine_version=version,
        params={"gpt_cond_len": 30},
        arrays={
            "gpt_cond_latent": np.full((1, 32, width), value, dtype=np.float32),
            "speaker_embedding": np.full((1, 512, 1), -value, dtype=np.float32),
        },
    )


def test_importing_the_package_imports_neither_torch_nor_django():
    code = (
        "import sys, synthesis.engines as e, synthesis.engines.base;"
        "assert 'torch' not in sys.modules, 'torch';"
        "assert 'django' not in sys.modules, 'django';"
        "print(e.engine_names())"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert "xtts" in out.stdout


def test_registry_rejects_unknown_names():
    with pytest.raises(ValueError, match="unknown engine"):
        engine_class("nope")


def test_default_params_are_valid_and_serialisable():
    params = XTTS.params_checked({})
    assert isinstance(params, SynthesisParams)
    assert params.to_dict()["temperature"] == params.temperature == 0.75
    assert XTTS.params_checked(params.to_dict()) == params


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("speed", 0.1, "speed must be between 0.25 and 4.0"),
        ("speed", 5.0, "speed must be between 0.25 and 4.0"),
        ("speed", float("nan"), "speed must be between"),
        ("temperature", 0.0, "temperature must be between"),
        ("top_k", 0, "top_k must be between"),
        ("top_k", 2.5, "top_k must be an integer"),
        ("top_p", 1.5, "top_p must be between"),
        ("repetition_penalty", 0.5, "repetition_penalty must be between"),
        ("max_new_tokens", 0, "max_new_tokens must be between"),
        ("seed", -1, "seed must be between"),
        ("speed", "fast", "speed must be a number"),
        ("seed", True, "seed must be a number"),
    ],
)
def test_params_out_of_range_are_refused_with_the_field_named(field, value, message):
    with pytest.raises(ValueError, match=message):
        XTTS.params_checked({field: value})


def test_status_and_unavailable_carry_reason_and_fix():
    status = EngineStatus(
        engine="xtts", model_version="", device="cpu", load_seconds=None, ready=False, reason="r"
    )
    assert status.to_dict() == {
        "engine": "xtts",
        "model_version": "",
        "device": "cpu",
        "load_seconds": None,
        "ready": False,
        "reason": "r",
        "fix": "",
    }
    exc = EngineUnavailable("No model.", fix="Set X.")
    assert (exc.reason, exc.fix) == ("No model.", "Set X.")
    assert "Fix: Set X." in str(exc)


def test_conditioning_npz_round_trip_needs_no_pickle():
    cond = _cond(0.5)
    data = cond.to_npz_bytes()
    with np.load(io.BytesIO(data), allow_pickle=False) as npz:
        assert all(npz[key].dtype != object for key in npz.files)
    back = Conditioning.from_npz_bytes(data)
    assert (back.engine, back.engine_version, back.params) == ("xtts", "v1", {"gpt_cond_len": 30})
    for name, array in cond.arrays.items():
        np.testing.assert_array_equal(back.arrays[name], array)
        assert back.arrays[name].dtype == array.dtype


def test_conditioning_refuses_a_pickled_payload():
    buffer = io.BytesIO()
    np.savez(buffer, __meta__=np.array([{"engine": "x"}], dtype=object))
    with pytest.raises(ValueError):
        Conditioning.from_npz_bytes(buffer.getvalue())


def test_conditioning_refuses_a_file_without_metadata():
    buffer = io.BytesIO()
    np.savez(buffer, a_x=np.zeros(3))
    with pytest.raises(ValueError, match="metadata"):
        Conditioning.from_npz_bytes(buffer.getvalue())
    assert zipfile.is_zipfile(io.BytesIO(buffer.getvalue()))


def test_blend_is_a_normalised_weighted_average():
    mixed = blend([(_cond(1.0), 3.0), (_cond(5.0), 1.0)])
    np.testing.assert_allclose(mixed.arrays["gpt_cond_latent"], 2.0)
    np.testing.assert_allclose(mixed.arrays["speaker_embedding"], -2.0)
    assert mixed.arrays["gpt_cond_latent"].dtype == np.float32
    assert [part["weight"] for part in mixed.params["blend"]] == [0.75, 0.25]
    single = blend([(_cond(2.0), 0.1)])
    np.testing.assert_allclose(single.arrays["gpt_cond_latent"], 2.0)


def test_blend_takes_integer_arrays_from_the_heaviest_voice():
    """Token ids (Chatterbox's speech prompt) have no average: the heaviest item's are kept."""

    def tokens(value: float, ids: list[int]) -> Conditioning:
        return Conditioning(
            engine="chatterbox",
            engine_version="v",
            arrays={
                "speaker_emb": np.full((1, 4), value, dtype=np.float32),
                "prompt_token": np.array([ids], dtype=np.int64),
            },
        )

    mixed = blend([(tokens(1.0, [1, 2, 3]), 1.0), (tokens(3.0, [7, 8, 9]), 3.0)])
    np.testing.assert_allclose(mixed.arrays["speaker_emb"], 2.5)
    assert mixed.arrays["prompt_token"].tolist() == [[7, 8, 9]]
    assert mixed.arrays["prompt_token"].dtype == np.int64


@pytest.mark.parametrize("weight", [0.0, -1.0, float("inf"), float("nan")])
def test_blend_refuses_non_positive_or_non_finite_weights(weight):
    with pytest.raises(ValueError, match="weights must be positive"):
        blend([(_cond(1.0), 1.0), (_cond(2.0), weight)])


def test_blend_refuses_mismatched_inputs():
    with pytest.raises(ValueError, match="at least one"):
        blend([])
    with pytest.raises(ValueError, match="different engines"):
        blend([(_cond(1.0), 1.0), (_cond(1.0, engine="piper"), 1.0)])
    with pytest.raises(ValueError, match="different engines or model versions"):
        blend([(_cond(1.0), 1.0), (_cond(1.0, version="v2"), 1.0)])
    with pytest.raises(ValueError, match="shape"):
        blend([(_cond(1.0), 1.0), (_cond(1.0, width=16), 1.0)])


def test_params_an_engine_does_not_declare_are_refused_by_name():
    with pytest.raises(ValueError, match="does not accept pitch"):
        XTTS.params_checked({"pitch": 1.0})
