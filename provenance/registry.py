"""The generation registry: a fingerprint of every output, and "was this generated here?".

Fingerprints are chromaprint's (Debian's `fpcalc`, package libchromaprint-tools), computed on
audio prepared so that they survive what people do to a file they pass on: the output is decoded
to mono 8 kHz (so a file resampled to 16 or 8 kHz, or an MP3 at 64 kbit/s, prepares to nearly
the same samples) and handed to fpcalc as if it were 2 kHz audio, i.e. slowed down 4 times.

Why slowed down: chromaprint is made for songs. It emits one 32-bit item per 0.124 s of input
and needs ~2 s of audio before its first item, so a 2-4 s speech clip (a typical TTS output)
gets 0-7 items, or none at all. Slowed down 4x, the same clip gets ~50-120 items, one per 31 ms
of real audio, and speech (100 Hz-4 kHz) lands inside chromaprint's chroma range (28-3520 Hz).

Matching is AcoustID's: the bit error rate (BER) between two fingerprints at their best offset;
score = 1 - 2 * BER, so unrelated audio scores about 0 and the same audio 1. Offsets are not
searched blindly: items the query shares exactly with a record vote for offsets, and only the
best few are compared. A query cut from the middle of an output starts between two of
chromaprint's frames, which changes most items; the query is therefore fingerprinted at
ALIGNMENTS sub-frame shifts and the best alignment counts.

Candidates come from an index (provenance.models.GenerationKey): per record, at most
INDEX_KEYS_MAX distinct items, chosen as the ones with the smallest hash (a bottom-k sketch, so
any excerpt still shares a proportional part of them). A lookup reads only the index rows of
the query's items and compares at most CANDIDATES records in full.
"""

from __future__ import annotations

import json
import logging
import subprocess
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from django.db import transaction
from django.db.models import Count

from provenance.models import GenerationKey, GenerationRecord
from voices.audio.probe import input_args, run_limited

logger = logging.getLogger(__name__)

FINGERPRINT_VERSION = "chromaprint2-8k-x4"
DECODE_RATE = 8_000
SLOWDOWN = 4
# chromaprint's hop: 1365 samples at 11,025 Hz, in samples of the real (not slowed) 8 kHz audio
HOP_SAMPLES = 1365 * DECODE_RATE / 11_025 / SLOWDOWN
ALIGNMENTS = 4
RECORD_MAX_SECONDS = 900.0  # of an output that is fingerprinted (an hour-long book: its start)
LOOKUP_MAX_SECONDS = 120.0  # of a file that is looked up
INDEX_KEYS_MAX = 1024
CANDIDATES = 20
MIN_OVERLAP = 16  # items (0.5 s) a comparison needs, or the whole query when it is shorter
# Measured on espeak-ng speech (README "Registry and protected voices"): re-encoded, resampled,
# trimmed (middle 50 %) or noisy (20 dB SNR) copies of 2-4 s clips scored >= 0.95; 12,250 pairs
# of different clips (10 sentences x 5 voices) scored 0 but for 63, the highest 0.74.
MATCH_SCORE = 0.85
_SQL_CHUNK = 500
_HASH = 0x9E3779B1  # Knuth's multiplicative hash: which items a record indexes
# Raw outputs have no header; they are read back the way synthesis.jobs.encoding wrote them.
_RAW_DEMUXERS = {"pcm": "s16le", "ulaw": "mulaw", "alaw": "alaw"}


@dataclass(frozen=True)
class Match:
    record: GenerationRecord
    score: float  # 0..1


class FingerprintError(Exception):
    pass


# --- fingerprints --------------------------------------------------------------------------------
def fingerprint_file(
    path: Path | str, *, raw_format: str = "", sample_rate: int | None = None
) -> list[int]:
    """The registry fingerprint (unsigned 32-bit chromaprint items) of an audio file.

    `raw_format` ("pcm", "ulaw", "alaw") with `sample_rate` reads a headerless output.
    Raises FingerprintError when the file cannot be decoded. Audio too short for any item
    (under about 0.6 s) gives [].
    """
    pcm = _decode(path, raw_format=raw_format, sample_rate=sample_rate, max_s=RECORD_MAX_SECONDS)
    return _fpcalc(pcm, max_s=RECORD_MAX_SECONDS).tolist()


def _decode(path, *, raw_format: str, sample_rate: int | None, max_s: float) -> bytes:
    """Mono s16le at DECODE_RATE, in a resource-limited ffmpeg (the file may be an upload)."""
    if raw_format:
        rate = 8_000 if raw_format in ("ulaw", "alaw") else int(sample_rate or 24_000)
        source = ["-f", _RAW_DEMUXERS[raw_format], "-ar", str(rate), "-ac", "1"]
        source += ["-i", f"file:{Path(path).resolve()}"]
    else:
        source = input_args(path)
    cmd = [
        "ffmpeg", "-nostdin", "-hide_banner", "-v", "error", "-threads", "1",
        "-t", f"{max_s:.3f}", *source, "-map", "0:a:0", "-vn", "-sn", "-dn",
        "-ac", "1", "-ar", str(DECODE_RATE), "-f", "s16le", "pipe:1",
    ]  # fmt: skip
    try:
        done = run_limited(cmd, timeout_s=60 + max_s / 10, mem_limit_mb=1024)
    except subprocess.TimeoutExpired as exc:
        raise FingerprintError("decoding timed out") from exc
    if done.returncode != 0:
        raise FingerprintError(done.stderr.decode(errors="replace")[-500:] or "ffmpeg failed")
    return done.stdout


def _fpcalc(pcm: bytes, *, max_s: float) -> np.ndarray:
    """chromaprint items of mono s16le DECODE_RATE audio, played SLOWDOWN times slower."""
    cmd = [
        "fpcalc", "-raw", "-json", "-format", "s16le", "-channels", "1",
        "-rate", str(DECODE_RATE // SLOWDOWN), "-length", str(int(max_s * SLOWDOWN) + 1), "-",
    ]  # fmt: skip
    try:
        done = subprocess.run(cmd, input=pcm, capture_output=True, timeout=120, check=False)
    except FileNotFoundError as exc:
        raise FingerprintError(
            "fpcalc is not installed (apt install libchromaprint-tools)"
        ) from exc
    # fpcalc exits 1 at the end of a pipe ("Error decoding audio frame (End of file)") after
    # printing a good fingerprint: its output, not its exit status, says whether it worked.
    try:
        return np.asarray(json.loads(done.stdout)["fingerprint"], dtype=np.uint32)
    except (ValueError, KeyError, TypeError) as exc:
        if b"Empty fingerprint" in done.stderr:
            return np.zeros(0, dtype=np.uint32)  # too short
        message = done.stderr.decode(errors="replace")[-500:] or "fpcalc failed"
        raise FingerprintError(message) from exc


def _query_fingerprints(pcm: bytes) -> list[np.ndarray]:
    """The query fingerprinted at ALIGNMENTS shifts within one chromaprint hop."""
    shifts = [round(i * HOP_SAMPLES / ALIGNMENTS) for i in range(ALIGNMENTS)]
    found = [_fpcalc(pcm[2 * shift :], max_s=LOOKUP_MAX_SECONDS) for shift in shifts]
    return [items for items in found if items.size]


def _distinct_keys(items: np.ndarray) -> np.ndarray:
    """Distinct items, without repeats of the item before (silence and held sounds repeat one
    item; such keys would be shared by every record)."""
    if items.size == 0:
        return items
    changed = np.concatenate([[True], items[1:] != items[:-1]])
    return np.unique(items[changed])


def index_keys(items: np.ndarray) -> list[int]:
    """At most INDEX_KEYS_MAX keys of a record (bottom-k by hash), as signed 32-bit ints."""
    keys = _distinct_keys(np.asarray(items, dtype=np.uint32))
    if keys.size > INDEX_KEYS_MAX:
        hashed = (keys.astype(np.uint64) * _HASH) & 0xFFFFFFFF
        keys = keys[np.argsort(hashed, kind="stable")[:INDEX_KEYS_MAX]]
    return _signed(keys).tolist()


def _signed(items: np.ndarray) -> np.ndarray:
    return np.asarray(items, dtype=np.uint32).view(np.int32)


# --- comparison ----------------------------------------------------------------------------------
def fingerprint_score(reference, query) -> float:
    """How alike two fingerprints are, 0..1 (1 - 2 * BER at the best offset the items they
    share exactly vote for; 0 when they share none)."""
    reference = np.asarray(reference, dtype=np.uint32)
    query = np.asarray(query, dtype=np.uint32)
    if reference.size == 0 or query.size == 0:
        return 0.0
    positions: dict[int, list[int]] = {}
    for index, item in enumerate(reference.tolist()):
        positions.setdefault(item, []).append(index)
    votes: Counter[int] = Counter()
    for j, item in enumerate(query.tolist()):
        for i in positions.get(item, ())[:8]:
            votes[i - j] += 1
    best = 1.0
    tried = set()
    for offset, _ in votes.most_common(4):
        for candidate in (offset - 1, offset, offset + 1):
            if candidate not in tried:
                tried.add(candidate)
                best = min(best, _bit_error_rate(reference, query, candidate))
    return max(0.0, 1.0 - 2.0 * best)


def _bit_error_rate(reference: np.ndarray, query: np.ndarray, offset: int) -> float:
    start_ref, start_query = max(0, offset), max(0, -offset)
    n = min(reference.size - start_ref, query.size - start_query)
    if n < min(MIN_OVERLAP, query.size, reference.size):
        return 1.0
    xor = reference[start_ref : start_ref + n] ^ query[start_query : start_query + n]
    return float(np.bitwise_count(xor).sum()) / (32.0 * n)


# --- the registry --------------------------------------------------------------------------------
def registry_record(path: Path | str, *, job) -> GenerationRecord | None:
    """Record the fingerprint of `path`, the encoded output of synthesis job `job` (worker side).

    One record per job (a retried job replaces its record). Never raises: the output matters
    more than its registry entry, so a failure is logged and None returned.
    """
    try:
        raw_format = job.output_format if job.output_format in _RAW_DEMUXERS else ""
        pcm = _decode(
            path, raw_format=raw_format, sample_rate=job.sample_rate, max_s=RECORD_MAX_SECONDS
        )
        items = _fpcalc(pcm, max_s=RECORD_MAX_SECONDS)
        if items.size == 0:
            logger.info("output of job %s is too short to fingerprint", job.code)
            return None
        return _record_save(job, items, duration=len(pcm) / 2 / DECODE_RATE)
    except Exception:
        logger.exception("could not record job %s in the generation registry", job.code)
        return None


@transaction.atomic
def _record_save(job, items: np.ndarray, *, duration: float) -> GenerationRecord:
    owner = job.owner
    voice = job.voice
    record, _ = GenerationRecord.objects.update_or_create(
        job_code=job.code,
        defaults={
            "user": owner,
            "account_id": owner.pk,
            "account_code": owner.code,
            "voice": voice,
            "voice_code": voice.code if voice is not None else None,
            "model": getattr(job, "engine_name", "") or (voice.engine if voice is not None else ""),
            "output_format": job.output_format,
            "duration_seconds": round(duration, 3),
            "fingerprint": items.astype("<u4").tobytes(),
            "fingerprint_version": FINGERPRINT_VERSION,
        },
    )
    GenerationKey.objects.filter(record=record).delete()
    GenerationKey.objects.bulk_create(
        [GenerationKey(record=record, key=key) for key in index_keys(items)]
    )
    return record


def registry_lookup(path: Path | str, *, limit: int = 5) -> list[Match]:
    """The registry records whose output `path` (any audio the intake accepts) was made from,
    best first, each with a score in 0..1 (only those at or above MATCH_SCORE).

    Reads at most LOOKUP_MAX_SECONDS of the file. Raises FingerprintError when it cannot be
    decoded.
    """
    pcm = _decode(path, raw_format="", sample_rate=None, max_s=LOOKUP_MAX_SECONDS)
    queries = _query_fingerprints(pcm)
    if not queries:
        return []
    keys = np.unique(np.concatenate([_distinct_keys(q) for q in queries]))
    records = GenerationRecord.objects.filter(
        pk__in=_candidates(_signed(keys).tolist()), fingerprint_version=FINGERPRINT_VERSION
    ).select_related("user", "voice")
    matches = []
    for record in records:
        reference = np.frombuffer(bytes(record.fingerprint), dtype="<u4")
        score = max(fingerprint_score(reference, query) for query in queries)
        if score >= MATCH_SCORE:
            matches.append(Match(record=record, score=round(score, 4)))
    matches.sort(key=lambda match: (-match.score, -match.record.pk))
    return matches[:limit]


def _candidates(keys: list[int]) -> list[int]:
    """The CANDIDATES records sharing the most index keys with the query."""
    hits: Counter[int] = Counter()
    for start in range(0, len(keys), _SQL_CHUNK):
        rows = (
            GenerationKey.objects.filter(key__in=keys[start : start + _SQL_CHUNK])
            .values("record_id")
            .annotate(n=Count("id"))
            .values_list("record_id", "n")
        )
        for record_id, n in rows:
            hits[record_id] += n
    return [record_id for record_id, _ in hits.most_common(CANDIDATES)]
