"""Finding, downloading, versioning and loading XTTS v2 weights (no Django, arguments only)."""

from __future__ import annotations

import hashlib
import importlib.util
import logging
import os
from pathlib import Path

import torch

from ..base import EngineUnavailable

logger = logging.getLogger(__name__)

REQUIRED_FILES = ("config.json", "model.pth", "vocab.json")
RELEASED_MODEL = "tts_models/multilingual/multi-dataset/xtts_v2"

FIX_MODEL_SOURCE = (
    "Set XTTS_MODEL_DIR to a directory holding config.json, model.pth and vocab.json, "
    "or set XTTS_ACCEPT_LICENSE=1 to download the released weights "
    "(Coqui Public Model License, non-commercial)"
)

# Bytes of model.pth read at each end for the version hash: content-based (a copied or moved
# model keeps its version, a different one changes it) without reading 1.9 GB.
_HASH_EDGE_BYTES = 1 << 20


def check_model_dir(model_dir: Path) -> Path:
    """Return `model_dir` if it holds the three checkpoint files, else EngineUnavailable."""
    model_dir = Path(model_dir)
    if not model_dir.is_dir():
        raise EngineUnavailable(
            f"XTTS model directory {model_dir} does not exist.", fix=FIX_MODEL_SOURCE
        )
    missing = [name for name in REQUIRED_FILES if not (model_dir / name).is_file()]
    if missing:
        raise EngineUnavailable(
            f"XTTS model directory {model_dir} lacks {', '.join(missing)}.", fix=FIX_MODEL_SOURCE
        )
    return model_dir


def download_released(*, download_dir: Path | None) -> Path:
    """Download the released XTTS v2 files once into `download_dir` and return their folder.

    Only called after the operator accepted the licence: coqui's ModelManager gives the
    repository and file patterns, and COQUI_TOS_AGREED=1 records the acceptance for coqui.
    coqui itself would put Hugging Face models in the global HF cache, whatever its
    output_prefix; the files are fetched into `download_dir` so they persist where the
    operator said. An already complete folder is used as is (no network).
    """
    if download_dir is None:
        raise EngineUnavailable(
            "XTTS_ACCEPT_LICENSE is set but no download directory is configured.",
            fix="Set XTTS_DOWNLOAD_DIR (or XTTS_MODEL_DIR) to a persistent, writable directory",
        )
    target = Path(download_dir) / "xtts_v2"
    if all((target / name).is_file() for name in REQUIRED_FILES):
        return target
    os.environ["COQUI_TOS_AGREED"] = "1"
    from huggingface_hub import snapshot_download
    from TTS.utils.manage import ModelManager

    manager = ModelManager(output_prefix=Path(download_dir), progress_bar=False)
    _, language, dataset, model = RELEASED_MODEL.split("/")
    item = manager.models_dict["tts_models"][language][dataset][model]
    logger.info("Downloading %s (%s) into %s", RELEASED_MODEL, item["repo_id"], target)
    try:
        snapshot_download(
            item["repo_id"],
            local_dir=target,
            allow_patterns=item.get("allow"),
            ignore_patterns=item.get("ignore"),
        )
    except Exception as exc:  # network, disk, HF errors all mean the same to the operator
        raise EngineUnavailable(
            f"Downloading the XTTS v2 weights failed: {exc}",
            fix=f"Check network access to huggingface.co and free space in {download_dir}, "
            "or set XTTS_MODEL_DIR to a directory with the files",
        ) from exc
    return check_model_dir(target)


def model_version(model_dir: Path) -> str:
    """Short content hash of a checkpoint: config.json, vocab.json, model.pth size and ends."""
    digest = hashlib.sha256()
    for name in ("config.json", "vocab.json"):
        digest.update((model_dir / name).read_bytes())
    weights = model_dir / "model.pth"
    size = weights.stat().st_size
    digest.update(str(size).encode())
    with weights.open("rb") as handle:
        digest.update(handle.read(_HASH_EDGE_BYTES))
        handle.seek(max(0, size - _HASH_EDGE_BYTES))
        digest.update(handle.read(_HASH_EDGE_BYTES))
    return f"xtts-v2-{digest.hexdigest()[:12]}"


def pick_device(requested: str) -> torch.device:
    """`auto` takes CUDA when present; forcing `cuda` without it is EngineUnavailable."""
    if requested not in ("auto", "cpu", "cuda"):
        raise EngineUnavailable(
            f"Unknown XTTS device {requested!r}.", fix="Set TIMBRE_DEVICE to auto, cpu or cuda"
        )
    if requested == "cuda" and not torch.cuda.is_available():
        raise EngineUnavailable(
            "TIMBRE_DEVICE is cuda but torch sees no CUDA device.",
            fix="Set TIMBRE_DEVICE=auto or cpu, or install the NVIDIA driver and a CUDA build "
            "of torch on this worker",
        )
    if requested == "auto":
        requested = "cuda" if torch.cuda.is_available() else "cpu"
    return torch.device(requested)


def deepspeed_usable(*, wanted: bool, device: torch.device) -> bool:
    """DeepSpeed only when asked for, importable and on CUDA (its kernels are GPU-only)."""
    if not wanted:
        return False
    if device.type != "cuda":
        logger.warning("XTTS DeepSpeed requested on %s: ignored (CUDA only)", device)
        return False
    if importlib.util.find_spec("deepspeed") is None:
        logger.warning("XTTS DeepSpeed requested but not installed: running without it")
        return False
    return True


def load_model(*, model_dir: Path, device: torch.device, use_deepspeed: bool):
    """Load a checkpoint through coqui's own path: `Xtts(config)` + `load_checkpoint`."""
    from TTS.tts.configs.xtts_config import XttsConfig
    from TTS.tts.models.xtts import Xtts

    config = XttsConfig()
    config.load_json(str(model_dir / "config.json"))
    model = Xtts(config)
    model.load_checkpoint(
        config, checkpoint_dir=str(model_dir), eval=True, use_deepspeed=use_deepspeed
    )
    return model.to(device)
