"""Chatterbox runs on the worker stack of requirements/, not on its wheel's own pins.

chatterbox-tts 0.1.7 declares torch==2.6.0, numpy<2, transformers==5.2.0 and gradio. It is
installed with --no-deps (requirements/chatterbox.txt) by the Makefile and the worker image, so
the environment these tests (and the Chatterbox engine's tests) run in is the pinned one.
"""

from __future__ import annotations

import importlib.metadata
import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def _pins(name: str) -> dict[str, str]:
    text = (REPO / "requirements" / name).read_text()
    return {
        m[1].lower(): m[2]
        for m in re.finditer(r"^([A-Za-z0-9_.\-]+)(?:\[[^\]]*\])?==(\S+)", text, re.M)
    }


def test_chatterbox_set_is_installed_without_deps_everywhere():
    makefile = (REPO / "Makefile").read_text()
    dockerfile = (REPO / "deploy" / "Dockerfile.worker").read_text()
    assert "pip install --quiet --no-deps -r requirements/chatterbox.txt" in makefile
    assert "pip install --no-deps -r requirements/chatterbox.txt" in dockerfile
    # dev.txt (the one `make install` resolves) must not pull the set in with its deps.
    for name in ("base.txt", "worker.txt", "dev.txt"):
        assert "chatterbox" not in (REPO / "requirements" / name).read_text()


@pytest.mark.parametrize("package", ["torch", "torchaudio", "numpy", "transformers"])
def test_the_worker_stack_keeps_its_own_pins(package):
    pins = {**_pins("base.txt"), **_pins("worker.txt")}
    assert importlib.metadata.version(package).split("+")[0] == pins[package]


def test_chatterbox_and_its_needs_are_installed_as_pinned():
    for package, version in _pins("chatterbox.txt").items():
        assert importlib.metadata.version(package) == version, package
    with pytest.raises(importlib.metadata.PackageNotFoundError):
        importlib.metadata.version("gradio")
    # Its wheel asks for torch==2.6.0 and numpy<2: neither is what runs.
    requires = importlib.metadata.requires("chatterbox-tts")
    assert any(r.startswith("torch==2.6.0") for r in requires)
    assert importlib.metadata.version("torch").split("+")[0] != "2.6.0"
