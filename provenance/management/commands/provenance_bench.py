"""`manage.py provenance_bench`: how well the watermark survives, and how often it lies.

Outputs made here: the stock Piper voice and the tiny random-weight XTTS checkpoint, called
in-process through the same engine classes the worker loads, each sentence marked by the
pipeline's own hook (`provenance.hooks.mark_audio`) as a job marks each chunk, then written as
16-bit WAV as the encoder would. Audio not made here: espeak-ng speech in several voices and
languages, and synthetic music-like signals (chords, plucked notes, a drum loop, a sweep).

Each clip goes through every condition (clean; MP3 at 64 kbit/s; resampled to 16 kHz and to
8 kHz; white noise at 20 dB SNR; the middle 50 %; 5 % faster and 5 % slower with ffmpeg's atempo)
and is decoded at Perth's 32 kHz, as the detector does. The table gives the detection rate on
our outputs and the false-positive rate on the others; the JSON has every confidence.
"""

from __future__ import annotations

import json
import subprocess
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import soundfile as sf
from django.conf import settings
from django.core.management.base import BaseCommand

RATE = 32_000  # Perth's rate: the detector decodes there
SENTENCES = [
    "The river was calm this morning, and the boats stayed close to the shore.",
    "Please remember to bring your own cup to the meeting on Thursday.",
    "Seven hundred people signed the letter before the council voted.",
    "A warm wind came up from the south and the snow melted in a day.",
    "She opened the old map and traced the road with her finger.",
    "Our next train leaves from platform four in twelve minutes.",
]
ESPEAK = [("en-us", 0), ("en+f3", 1), ("en+m3", 2), ("en-gb-x-rp", 3), ("de", 4), ("fr", 5)]
GERMAN = "Der Zug nach Berlin fährt heute pünktlich um acht Uhr vom alten Bahnhof ab."
FRENCH = "Le petit marché du samedi ouvre très tôt, avant le lever du soleil."
CONDITIONS = [
    "clean",
    "mp3_64k",
    "resample_16k",
    "resample_8k",
    "noise_20db",
    "middle_50",
    "speed_up_5",
    "slow_down_5",
]


class Command(BaseCommand):
    help = "Watermark detection rate on our outputs and false positives on other audio."

    def add_arguments(self, parser):
        parser.add_argument("--out", type=Path, default=None, help="JSON report path")
        parser.add_argument("--sentences", type=int, default=4, help=f"at most {len(SENTENCES)}")
        parser.add_argument("--no-xtts", action="store_true", help="skip the tiny checkpoint")

    def handle(self, *args, **opts):
        from provenance.watermark import watermarker

        started = time.monotonic()
        watermarker()  # loaded once, as in a worker; not counted in the per-second costs
        texts = SENTENCES[: max(1, opts["sentences"])]
        with tempfile.TemporaryDirectory(prefix="timbre-provbench-") as tmp:
            work = Path(tmp)
            groups, costs = self._clips(work, texts, xtts=not opts["no_xtts"])
            results = self._detect_all(work, groups, costs)
        report = {
            "when": datetime.now(UTC).isoformat(),
            "threshold": settings.PROVENANCE_WATERMARK_THRESHOLD,
            "conditions": CONDITIONS,
            "costs": costs,
            "groups": {name: _summary(results[name]) for name in groups},
            "clips": results,
            "seconds": round(time.monotonic() - started, 1),
        }
        out = Path(
            opts["out"] or Path("bench-results") / f"provenance-bench-{int(time.time())}.json"
        )
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(report, indent=2))
        self.stdout.write(_table(report))
        self.stdout.write(f"\nJSON written to {out}")

    # --- clips --------------------------------------------------------------------------------
    def _clips(self, work: Path, texts: list[str], *, xtts: bool):
        groups: dict[str, list[Path]] = {}
        costs: dict[str, float] = {}
        self.stderr.write("Piper (stock voice) ...")
        groups["ours: piper"], costs["mark_s_per_audio_s"] = _ours(work, "piper", _piper(), texts)
        if xtts:
            self.stderr.write("XTTS (tiny random-weight checkpoint) ...")
            groups["ours: xtts-tiny"], _ = _ours(work, "xtts", _xtts_tiny(work), texts)
        self.stderr.write("espeak-ng and music-like signals ...")
        groups["not ours: espeak-ng"] = [
            _espeak(work, voice, texts[i % len(texts)]) for voice, i in ESPEAK
        ]
        groups["not ours: music-like"] = _music(work)
        return groups, costs

    def _detect_all(self, work: Path, groups: dict[str, list[Path]], costs: dict) -> dict:
        from provenance.watermark import watermark_confidence

        results: dict[str, list[dict]] = {}
        spent = audio_seconds = 0.0
        for name, paths in groups.items():
            self.stderr.write(f"Detecting: {name} ({len(paths)} clips x {len(CONDITIONS)})")
            results[name] = []
            for path in paths:
                row = {"clip": path.stem}
                for condition in CONDITIONS:
                    audio = _decoded(_transformed(path, condition, work))
                    begin = time.perf_counter()
                    row[condition] = round(watermark_confidence(audio, sample_rate=RATE), 4)
                    spent += time.perf_counter() - begin
                    audio_seconds += audio.size / RATE
                results[name].append(row)
        costs["detect_s_per_audio_s"] = round(spent / max(audio_seconds, 1e-9), 4)
        return results


# --- audio made here -----------------------------------------------------------------------------
def _piper():
    from synthesis.engines.piper.engine import PiperEngine

    engine = PiperEngine()
    engine.load()
    return engine, engine.conditioning_for()


def _xtts_tiny(work: Path):
    from synthesis.engines.xtts.checkpoint import write_checkpoint
    from synthesis.engines.xtts.engine import XttsEngine

    path = Path(settings.DATA_DIR) / "models" / "xtts-random-tiny"
    if not (path / "model.pth").exists():
        write_checkpoint(size="tiny", out_dir=path, seed=0)
    engine = XttsEngine(path, device="cpu")
    engine.load()
    reference = _espeak(work, "en-us", " ".join(SENTENCES[:3]), name="xtts-reference")
    return engine, engine.compute_conditioning(wav_paths=[reference])


def _ours(work: Path, engine_name: str, loaded, texts: list[str]) -> tuple[list[Path], float]:
    """One marked WAV per sentence; the marking cost in seconds per second of audio."""
    from provenance.hooks import mark_audio
    from synthesis.engines import engine_facts

    engine, conditioning = loaded
    params = engine_facts(engine_name).params_complete({"seed": 7, "max_new_tokens": 60})
    paths, spent, seconds = [], 0.0, 0.0
    for index, text in enumerate(texts):
        audio = next(
            iter(
                engine.synthesize(
                    texts=[text], language="en", conditioning=conditioning, params=params
                )
            )
        )
        begin = time.perf_counter()
        marked = mark_audio(np.asarray(audio), sample_rate=engine.sample_rate, engine=engine.name)
        spent += time.perf_counter() - begin
        seconds += marked.size / engine.sample_rate
        path = work / f"{engine_name}-{index}.wav"
        sf.write(path, marked, engine.sample_rate, subtype="PCM_16")
        paths.append(path)
    return paths, round(spent / max(seconds, 1e-9), 4)


# --- audio not made here -------------------------------------------------------------------------
def _espeak(work: Path, voice: str, text: str, *, name: str = "") -> Path:
    text = {"de": GERMAN, "fr": FRENCH}.get(voice, text)
    path = work / f"{name or 'espeak-' + voice}.wav"
    subprocess.run(["espeak-ng", "-v", voice, "-w", str(path), text], check=True, timeout=60)
    return path


def _music(work: Path) -> list[Path]:
    rate, rng = 44_100, np.random.default_rng(0)
    t = np.arange(int(rate * 6)) / rate
    signals = {
        "chords": sum(
            np.sin(2 * np.pi * f * t) * (0.5 + 0.5 * np.sin(2 * np.pi * 0.5 * t + k))
            for k, f in enumerate((220.0, 277.2, 329.6, 440.0))
        )
        / 4,
        "plucked": _plucked(t, rate),
        "drums": _drums(t, rate, rng),
        "sweep": np.sin(2 * np.pi * (50 * t + (4000 - 50) / (2 * t[-1]) * t**2)) * 0.5,
        "chords_and_drums": None,
    }
    signals["chords_and_drums"] = 0.6 * signals["chords"] + 0.4 * signals["drums"]
    paths = []
    for name, audio in signals.items():
        path = work / f"music-{name}.wav"
        sf.write(path, (0.8 * audio / np.max(np.abs(audio))).astype(np.float32), rate)
        paths.append(path)
    return paths


def _plucked(t: np.ndarray, rate: int) -> np.ndarray:
    out = np.zeros_like(t)
    notes = [261.6, 329.6, 392.0, 523.3, 392.0, 329.6]
    for i, start in enumerate(np.arange(0, t[-1], 0.5)):
        begin = int(start * rate)
        span = t[begin:] - start
        f = notes[i % len(notes)]
        out[begin:] += sum(np.sin(2 * np.pi * f * h * span) / h for h in (1, 2, 3)) * np.exp(
            -4 * span
        )
    return out


def _drums(t: np.ndarray, rate: int, rng) -> np.ndarray:
    out = np.zeros_like(t)
    for i, start in enumerate(np.arange(0, t[-1], 0.25)):
        begin = int(start * rate)
        span = t[begin:] - start
        if i % 2 == 0:  # kick
            out[begin:] += np.sin(2 * np.pi * 60 * span * (1 + np.exp(-30 * span))) * np.exp(
                -8 * span
            )
        else:  # hat
            out[begin:] += 0.3 * rng.standard_normal(span.size) * np.exp(-40 * span)
    return out


# --- conditions ----------------------------------------------------------------------------------
def _ffmpeg(*args: str) -> None:
    subprocess.run(
        ["ffmpeg", "-nostdin", "-hide_banner", "-v", "error", "-y", *args],
        check=True,
        timeout=120,
    )


def _transformed(path: Path, condition: str, work: Path) -> Path:
    """`path` after `condition`, as a file (what someone would upload)."""
    out = work / f"{path.stem}.{condition}.wav"
    src = str(path)
    if condition == "clean":
        return path
    if condition == "mp3_64k":
        mp3 = out.with_suffix(".mp3")
        _ffmpeg("-i", src, "-c:a", "libmp3lame", "-b:a", "64k", str(mp3))
        return mp3
    if condition in ("resample_16k", "resample_8k"):
        _ffmpeg("-i", src, "-ar", "16000" if condition == "resample_16k" else "8000", str(out))
        return out
    if condition in ("speed_up_5", "slow_down_5"):
        _ffmpeg(
            "-i",
            src,
            "-filter:a",
            f"atempo={1.05 if condition == 'speed_up_5' else 0.95}",
            str(out),
        )
        return out
    audio, rate = sf.read(path, dtype="float32")
    if condition == "middle_50":
        quarter = audio.size // 4
        audio = audio[quarter : audio.size - quarter]
    elif condition == "noise_20db":
        power = float(np.mean(audio**2))
        noise = np.random.default_rng(1).standard_normal(audio.size) * np.sqrt(power / 100)
        audio = np.clip(audio + noise, -1, 1)
    sf.write(out, audio.astype(np.float32), rate)
    return out


def _decoded(path: Path) -> np.ndarray:
    done = subprocess.run(
        ["ffmpeg", "-nostdin", "-v", "error", "-i", str(path), "-ac", "1", "-ar", str(RATE),
         "-f", "f32le", "pipe:1"],
        capture_output=True,
        check=True,
        timeout=120,
    )  # fmt: skip
    return np.frombuffer(done.stdout, dtype="<f4")


# --- report --------------------------------------------------------------------------------------
def _summary(rows: list[dict]) -> dict:
    threshold = settings.PROVENANCE_WATERMARK_THRESHOLD
    return {
        condition: {
            "detected": sum(row[condition] >= threshold for row in rows),
            "clips": len(rows),
            "mean_confidence": round(float(np.mean([row[condition] for row in rows])), 3),
        }
        for condition in CONDITIONS
    }


def _table(report: dict) -> str:
    groups = report["groups"]
    names = list(groups)
    header = [
        "condition",
        *[f"{n} ({'detected' if n.startswith('ours') else 'false +'})" for n in names],
    ]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for condition in CONDITIONS:
        cells = [
            f"{groups[n][condition]['detected']}/{groups[n][condition]['clips']} "
            f"(mean {groups[n][condition]['mean_confidence']:.2f})"
            for n in names
        ]
        lines.append("| " + " | ".join([condition, *cells]) + " |")
    costs = report["costs"]
    lines.append(
        f"\nThreshold {report['threshold']}; CPU cost: marking {costs['mark_s_per_audio_s']} s and "
        f"detection {costs['detect_s_per_audio_s']} s per second of audio; "
        f"run {report['seconds']} s."
    )
    return "\n".join(lines)
