"""Finding, downloading, versioning and loading Chatterbox Multilingual weights (arguments only).

Every load goes through upstream's `ChatterboxMultilingualTTS.from_local(dir, device)`. A
random-weight checkpoint written by `checkpoint.py` at size `tiny` carries a marker file
(`timbre-checkpoint.json`) naming the Llama settings it was built with; the T3 config has no
file of its own (upstream builds it from the in-code table `LLAMA_CONFIGS["Llama_520M"]`), so
that table is patched for the duration of `from_local` and restored after.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import threading
from pathlib import Path

from ..base import EngineUnavailable

logger = logging.getLogger(__name__)

REPO_ID = "ResembleAI/chatterbox"
REQUIRED_FILES = (
    "ve.pt",
    "t3_mtl23ls_v2.safetensors",
    "s3gen.pt",
    "grapheme_mtl_merged_expanded_v1.json",
)
# What upstream's from_pretrained fetches (chatterbox-tts 0.1.7, mtl_tts.py).
ALLOW_PATTERNS = [*REQUIRED_FILES, "conds.pt", "Cangjie5_TC.json"]
MARKER = "timbre-checkpoint.json"
LLAMA_CONFIG_NAME = "Llama_520M"

FIX_MODEL_SOURCE = (
    "Set CHATTERBOX_MODEL_DIR to a directory holding ve.pt, t3_mtl23ls_v2.safetensors, "
    "s3gen.pt and grapheme_mtl_merged_expanded_v1.json, or set CHATTERBOX_DOWNLOAD=1 to "
    f"download the released weights ({REPO_ID}, MIT) once into CHATTERBOX_DOWNLOAD_DIR"
)

_HASH_EDGE_BYTES = 1 << 20
_patch_lock = threading.Lock()


def check_model_dir(model_dir: Path) -> Path:
    """`model_dir` if it holds the four checkpoint files, else EngineUnavailable naming them."""
    model_dir = Path(model_dir)
    if not model_dir.is_dir():
        raise EngineUnavailable(
            f"Chatterbox model directory {model_dir} does not exist.", fix=FIX_MODEL_SOURCE
        )
    missing = [name for name in REQUIRED_FILES if not (model_dir / name).is_file()]
    if missing:
        raise EngineUnavailable(
            f"Chatterbox model directory {model_dir} lacks {', '.join(missing)}.",
            fix=FIX_MODEL_SOURCE,
        )
    return model_dir


def download_released(*, download_dir: Path | None) -> Path:
    """Fetch the released files once into `download_dir` (a complete folder: no network)."""
    if download_dir is None:
        raise EngineUnavailable(
            "CHATTERBOX_DOWNLOAD is set but no download directory is configured.",
            fix="Set CHATTERBOX_DOWNLOAD_DIR to a persistent, writable directory",
        )
    target = Path(download_dir)
    if all((target / name).is_file() for name in REQUIRED_FILES):
        return target
    from huggingface_hub import snapshot_download

    logger.info("Downloading %s into %s", REPO_ID, target)
    try:
        snapshot_download(
            repo_id=REPO_ID,
            repo_type="model",
            local_dir=target,
            allow_patterns=ALLOW_PATTERNS,
            token=os.environ.get("HF_TOKEN") or None,
        )
    except Exception as exc:  # network, disk, HF errors all mean the same to the operator
        raise EngineUnavailable(
            f"Downloading the Chatterbox weights failed: {exc}",
            fix=f"Check network access to huggingface.co and free space in {target}, "
            "or set CHATTERBOX_MODEL_DIR to a directory with the files",
        ) from exc
    return check_model_dir(target)


def read_marker(model_dir: Path) -> dict:
    """The marker of a checkpoint written by `checkpoint.py` ({} for released weights)."""
    path = Path(model_dir) / MARKER
    if not path.is_file():
        return {}
    return json.loads(path.read_text(encoding="utf-8"))


@contextlib.contextmanager
def llama_overrides(overrides: dict):
    """Patch upstream's Llama config table in place while T3 is built, then restore it."""
    from chatterbox.models.t3.llama_configs import LLAMA_CONFIGS

    table = LLAMA_CONFIGS[LLAMA_CONFIG_NAME]
    with _patch_lock:
        saved = dict(table)
        table.update(overrides)
        try:
            yield
        finally:
            table.clear()
            table.update(saved)


def model_version(model_dir: Path) -> str:
    """Short content hash: vocabulary, marker, and size + ends of each weight file."""
    digest = hashlib.sha256()
    for name in ("grapheme_mtl_merged_expanded_v1.json", MARKER):
        if (model_dir / name).is_file():
            digest.update((model_dir / name).read_bytes())
    for name in ("ve.pt", "t3_mtl23ls_v2.safetensors", "s3gen.pt"):
        path = model_dir / name
        size = path.stat().st_size
        digest.update(f"{name}:{size}".encode())
        with path.open("rb") as handle:
            digest.update(handle.read(_HASH_EDGE_BYTES))
            handle.seek(max(0, size - _HASH_EDGE_BYTES))
            digest.update(handle.read(_HASH_EDGE_BYTES))
    return f"chatterbox-mtl-{digest.hexdigest()[:12]}"


def pick_device(requested: str) -> str:
    """`auto` takes CUDA when present; forcing `cuda` without it is EngineUnavailable."""
    import torch

    if requested not in ("auto", "cpu", "cuda"):
        raise EngineUnavailable(
            f"Unknown device {requested!r}.", fix="Set TIMBRE_DEVICE to auto, cpu or cuda"
        )
    if requested == "cuda" and not torch.cuda.is_available():
        raise EngineUnavailable(
            "TIMBRE_DEVICE is cuda but torch sees no CUDA device.",
            fix="Set TIMBRE_DEVICE=auto or cpu, or install a CUDA build of torch on this worker",
        )
    if requested == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    return requested


def load_model(*, model_dir: Path, device: str):
    """Upstream's `from_local`, offline; the tiny marker's Llama settings applied around it."""
    # The tokenizer looks Cangjie5_TC.json up through the HF hub; offline it fails fast
    # instead of trying the network from a worker.
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import huggingface_hub.constants as hub_constants

    # huggingface_hub reads the variable once, when first imported (transformers may have).
    hub_constants.HF_HUB_OFFLINE = os.environ["HF_HUB_OFFLINE"] not in ("0", "false", "")
    from chatterbox.mtl_tts import ChatterboxMultilingualTTS

    overrides = read_marker(model_dir).get("llama_overrides", {})
    with llama_overrides(overrides):
        model = ChatterboxMultilingualTTS.from_local(model_dir, device)
    _load_cangjie(model, model_dir)
    _quiet_progress_bars()
    return model


def _quiet_progress_bars() -> None:
    """T3 draws a tqdm bar per generated text ("Sampling"), which floods a worker's log: the
    module's own `tqdm` name is replaced by a disabled one (upstream has no switch)."""
    import functools

    from chatterbox.models.t3 import t3 as t3_module
    from tqdm import tqdm

    if getattr(t3_module.tqdm, "func", None) is not tqdm:
        t3_module.tqdm = functools.partial(tqdm, disable=True)


def _load_cangjie(model, model_dir: Path) -> None:
    """Use `Cangjie5_TC.json` from the model directory itself when it is there.

    Upstream only finds it in a Hugging Face cache layout (`hf_hub_download(cache_dir=...)`);
    a plain copy beside the weights is read here in upstream's own format. Without it,
    Chinese characters reach the tokenizer as they are (upstream's fallback).
    """
    path = Path(model_dir) / "Cangjie5_TC.json"
    converter = model.tokenizer.cangjie_converter
    if converter.word2cj or not path.is_file():
        return
    for entry in json.loads(path.read_text(encoding="utf-8")):
        word, code = entry.split("\t")[:2]
        converter.word2cj[word] = code
        converter.cj2word.setdefault(code, []).append(word)
