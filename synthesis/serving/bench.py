"""The load of `manage.py bench_serving`: simulated users on the real HTTP API, and the figures.

Pure client side (httpx and the worker's log): what a user sees, measured from outside. The
command starts the processes; this module drives one load against them and sums it up.
"""

from __future__ import annotations

import collections
import re
import statistics
import threading
import time
from dataclasses import dataclass, field

import httpx

STEP_LINE = re.compile(r"Engine step: (\d+) rows in ([0-9.]+) s")


def percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def book_text(chunks: int) -> str:
    """A long job: one chunk per paragraph."""
    return "\n\n".join(f"Paragraph number {n} of the long book." for n in range(1, chunks + 1))


@dataclass
class Load:
    """One bench user's share of the load: `rounds` of one short stream and one medium job."""

    base: str
    keys: list[str]  # one API key per simulated user
    voices: list[str]  # the voice code of each user
    rounds: int
    short_text: str = "A short streaming request, spoken at once."
    medium_text: str = "\n\n".join(f"Medium job sentence {n}." for n in range(1, 6))
    first_audio: list[float] = field(default_factory=list)
    job_seconds: list[float] = field(default_factory=list)
    errors: collections.Counter = field(default_factory=collections.Counter)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def client(self, index: int) -> httpx.Client:
        headers = {"Authorization": f"Bearer {self.keys[index]}"}
        return httpx.Client(base_url=self.base, headers=headers, timeout=600)

    def stream(self, client: httpx.Client, voice: str) -> None:
        body = {"voice": voice, "text": self.short_text, "format": "wav"}
        started = time.perf_counter()
        with client.stream("POST", "/api/v1/synthesis/stream", json=body) as response:
            if response.status_code != 200:
                self._error(f"stream {response.status_code}")
                return
            first = None
            for piece in response.iter_bytes():
                if piece and first is None:
                    first = time.perf_counter() - started
        if first is not None:
            with self._lock:
                self.first_audio.append(first)

    def job(self, client: httpx.Client, voice: str, text: str) -> tuple[str, float] | None:
        """Submit a job and poll it to its end: (its id, seconds from submit to done)."""
        started = time.perf_counter()
        response = client.post("/api/v1/synthesis", json={"voice": voice, "text": text})
        if response.status_code != 202:
            self._error(f"submit {response.status_code}")
            return None
        code = response.json()["id"]
        while True:
            detail = client.get(f"/api/v1/synthesis/{code}").json()
            if detail["status"] in ("succeeded", "failed", "cancelled"):
                break
            time.sleep(0.1)
        if detail["status"] != "succeeded":
            self._error(f"job {detail['status']}")
            return None
        return code, time.perf_counter() - started

    def user(self, index: int) -> None:
        with self.client(index) as client:
            for _ in range(self.rounds):
                try:
                    self.stream(client, self.voices[index])
                    done = self.job(client, self.voices[index], self.medium_text)
                except httpx.HTTPError as exc:
                    self._error(type(exc).__name__)
                    continue
                if done is not None:
                    with self._lock:
                        self.job_seconds.append(done[1])

    def run(self, users: range) -> float:
        """Every user at once; the wall seconds of the whole load."""
        began = time.monotonic()
        threads = [threading.Thread(target=self.user, args=(index,)) for index in users]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        return time.monotonic() - began

    def _error(self, what: str) -> None:
        with self._lock:
            self.errors[what] += 1


def steps_from_log(log: str) -> dict:
    """Batch-size histogram and busy seconds of the scheduler's logged engine steps."""
    sizes = collections.Counter()
    busy = 0.0
    for rows, seconds in STEP_LINE.findall(log):
        sizes[int(rows)] += 1
        busy += float(seconds)
    steps = sum(sizes.values())
    return {
        "steps": steps,
        "mean_batch": round(sum(k * v for k, v in sizes.items()) / steps, 2) if steps else None,
        "busy_seconds": round(busy, 2),
        "batch_histogram": {str(size): sizes[size] for size in sorted(sizes)},
    }


def summary(values: list[float]) -> dict:
    return {
        "n": len(values),
        "p50_s": round(statistics.median(values), 3) if values else None,
        "p95_s": round(percentile(values, 0.95), 3) if values else None,
    }
