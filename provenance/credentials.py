"""Content credentials (C2PA): signed into stored outputs, read back by the detector.

A manifest says that Timbre (at SITE_URL) created the audio with a trained algorithm
(digitalSourceType trainedAlgorithmicMedia on a c2pa.created action), with which model, for which
voice (its public code, never its name) and when. It is signed with the operator's key and
certificate chain (PROVENANCE_C2PA_KEY, PROVENANCE_C2PA_CERT); no timestamp authority is asked,
so signing needs no network.

c2pa can carry a manifest in WAV, MP3, FLAC and M4A. Timbre's other outputs get none: Opus (Ogg),
AAC (raw ADTS, which has no place for one), raw PCM, µ-law and A-law.

c2pa-python is a worker requirement; the web process only reads `signing_state()`, which needs
no c2pa.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
from pathlib import Path

from django.conf import settings
from django.utils import timezone

logger = logging.getLogger(__name__)

TRAINED_ALGORITHMIC_MEDIA = "http://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia"
# Timbre's own assertion: the facts a reader needs, in one place.
GENERATION_LABEL = "timbre.generation"
# Output extension -> media type, for the formats a manifest fits in.
SIGNABLE = {"wav": "audio/wav", "mp3": "audio/mpeg", "flac": "audio/flac", "m4a": "audio/mp4"}
# Demuxer names (ffprobe's first format name) of files the detector may read a manifest from.
READABLE_DEMUXERS = {
    "wav": "audio/wav",
    "mp3": "audio/mpeg",
    "flac": "audio/flac",
    "mov": "audio/mp4",
}


def signing_state() -> dict:
    """Whether outputs are signed, and if not why (for status pages and health)."""
    key, cert = settings.PROVENANCE_C2PA_KEY, settings.PROVENANCE_C2PA_CERT
    missing = [
        f"{name}={path or '(empty)'}"
        for name, path in (("PROVENANCE_C2PA_KEY", key), ("PROVENANCE_C2PA_CERT", cert))
        if not path or not Path(path).is_file()
    ]
    if missing:
        return {
            "signed": False,
            "reason": f"No signing key or certificate at {', '.join(missing)}: outputs carry the "
            "watermark but no content credentials. `manage.py provenance_keys` writes a trial "
            "pair there.",
        }
    return {"signed": True, "reason": "", "algorithm": settings.PROVENANCE_C2PA_ALG.upper()}


def provenance_state() -> dict:
    """The watermark and signing as configured here (health: informative, never a failure)."""
    signing = signing_state()
    return {
        "watermark": bool(settings.PROVENANCE_WATERMARK),
        "content_credentials": (
            f"signed ({signing['algorithm']})" if signing["signed"] else "unsigned"
        ),
        **({"note": signing["reason"]} if not signing["signed"] else {}),
    }


def manifest_definition(*, job, title: str) -> dict:
    """The manifest of one output of `job` (a SynthesisJob; attributes only)."""
    voice = getattr(job, "voice", None)
    model = (getattr(voice, "engine", "") or "") if voice is not None else ""
    created = (getattr(job, "created_at", None) or timezone.now()).isoformat()
    voice_code = str(voice.code) if voice is not None else None
    return {
        "claim_generator_info": [{"name": "Timbre", "version": "1"}],
        "title": title,
        "assertions": [
            {
                "label": "c2pa.actions",
                "data": {
                    "actions": [
                        {
                            "action": "c2pa.created",
                            "when": created,
                            "digitalSourceType": TRAINED_ALGORITHMIC_MEDIA,
                            "softwareAgent": {"name": f"Timbre ({model or 'speech engine'})"},
                        }
                    ]
                },
            },
            {
                "label": GENERATION_LABEL,
                "data": {
                    "service": "Timbre",
                    "site": settings.SITE_URL,
                    "model": model,
                    "voice_id": voice_code,
                    "job_id": str(job.code),
                    "created": created,
                },
            },
        ],
    }


def credentials_sign(path: Path, *, job) -> bool:
    """Sign a manifest into `path` in place. False (and the file untouched) when signing is not
    configured, the format takes no manifest, or signing failed (logged: the output is still
    stored, unsigned)."""
    path = Path(path)
    mime = SIGNABLE.get(path.suffix.lstrip(".").lower())
    if mime is None or not signing_state()["signed"]:
        return False
    try:
        _sign_into(path, mime=mime, manifest=manifest_definition(job=job, title=path.name))
    except Exception:
        logger.exception("Signing content credentials into the output of job %s failed", job.code)
        return False
    return True


def _sign_into(path: Path, *, mime: str, manifest: dict) -> None:
    import c2pa

    alg = {"es256": c2pa.C2paSigningAlg.ES256, "ps256": c2pa.C2paSigningAlg.PS256}[
        settings.PROVENANCE_C2PA_ALG.lower()
    ]
    info = c2pa.C2paSignerInfo(
        alg=alg,
        sign_cert=Path(settings.PROVENANCE_C2PA_CERT).read_bytes(),
        private_key=Path(settings.PROVENANCE_C2PA_KEY).read_bytes(),
        ta_url=None,  # no timestamp authority: signing never touches the network
    )
    fd, tmp_name = tempfile.mkstemp(dir=path.parent, suffix=path.suffix)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        context_settings = c2pa.Settings.from_dict({"builder": {"thumbnail": {"enabled": False}}})
        with (
            c2pa.Context(context_settings) as context,
            c2pa.Signer.from_info(info) as signer,
            c2pa.Builder(manifest, context) as builder,
            path.open("rb") as source,
            tmp.open("w+b") as dest,
        ):
            builder.sign(signer, mime, source, dest)
        tmp.replace(path)
    finally:
        tmp.unlink(missing_ok=True)


def credentials_read(path: Path, *, mime: str) -> dict | None:
    """The active manifest of `path` summarised, or None when it has none.

    Never fetches anything (no remote manifests, no OCSP). `validation_state` is "Trusted" when
    the chain ends in PROVENANCE_C2PA_TRUST_ANCHORS, "Valid" when the signature and bindings
    hold, "Invalid" otherwise (an edited file, a broken signature).
    """
    import c2pa

    verify = {"remote_manifest_fetch": False, "ocsp_fetch": False}
    config: dict = {"verify": verify}
    anchors = settings.PROVENANCE_C2PA_TRUST_ANCHORS
    if anchors and Path(anchors).is_file():
        config["trust"] = {"trust_anchors": Path(anchors).read_text()}
    try:
        with (
            c2pa.Context(c2pa.Settings.from_dict(config)) as context,
            Path(path).open("rb") as stream,
            c2pa.Reader(mime, stream, context=context) as reader,
        ):
            store = json.loads(reader.json())
    except c2pa.C2paError as exc:
        if "ManifestNotFound" in type(exc).__name__ or "NotSupported" in type(exc).__name__:
            return None
        return {"validation_state": "Invalid", "error": str(exc)[:300]}
    return manifest_summary(store)


def manifest_summary(store: dict) -> dict:
    """What the detector shows of a manifest store: state, signer, the creation action and
    Timbre's own assertion (when the file was made here)."""
    active = (store.get("manifests") or {}).get(store.get("active_manifest") or "", {})
    assertions = {a.get("label", ""): a.get("data") for a in active.get("assertions") or []}
    actions = (
        next(
            (
                data.get("actions")
                for label, data in assertions.items()
                if label.startswith("c2pa.actions")
            ),
            None,
        )
        or []
    )
    created = next((a for a in actions if a.get("action") == "c2pa.created"), {})
    signature = active.get("signature_info") or {}
    return {
        "validation_state": store.get("validation_state", ""),
        "validation_codes": sorted(
            {status.get("code", "") for status in store.get("validation_status") or []}
        ),
        "claim_generator": ", ".join(
            info.get("name", "") for info in active.get("claim_generator_info") or []
        ),
        "signer": signature.get("common_name") or signature.get("issuer") or "",
        "issuer": signature.get("issuer", ""),
        "digital_source_type": created.get("digitalSourceType", ""),
        "created": created.get("when", ""),
        "generation": assertions.get(GENERATION_LABEL),
    }
