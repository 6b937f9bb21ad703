"""`manage.py bench_ops`: the operations figures of the "nothing lost" work, measured with real
processes on this machine's configured database and broker, and written as a JSON report.

- recovery: kill -9 the synthesis pool process mid-job; seconds until the worker serves again
  (the re-run job's first chunk) and until the job is finished; the engine's load time.
- load: p50/p95 latency and requests per second of job submission and status polling, with N
  concurrent clients on loopback against gunicorn.
- soak: the synthesis pool process's memory (RSS) over N jobs.

It starts its own worker (and web server for `load`), and a bench user with a plan big enough
not to be refused; nothing here is a pass/fail test.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import statistics
import subprocess
import threading
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from synthesis.workers.process import celery_worker_command, web_command


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


class Worker:
    """One Celery worker process on every queue, with this command's settings."""

    def __init__(self, log: Path, env: dict) -> None:
        self.log_path = log
        self._log = log.open("wb")
        self.proc = subprocess.Popen(
            celery_worker_command(
                queues=("synthesis", "audio", "default"), name=f"bench-{uuid.uuid4().hex[:6]}@%h"
            ),
            env={**os.environ, **env},
            cwd=settings.BASE_DIR,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 300
        while " ready." not in log.read_text(errors="replace"):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise CommandError(f"worker did not start:\n{log.read_text()[-3000:]}")
            time.sleep(0.3)

    def children(self) -> list:
        import psutil

        return psutil.Process(self.proc.pid).children()

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        self._log.close()


class Command(BaseCommand):
    help = "Measure crash recovery, API latency under load and worker memory over many jobs."

    def add_arguments(self, parser):
        parser.add_argument("--what", choices=["recovery", "load", "soak", "all"], default="all")
        parser.add_argument("--size", choices=["tiny", "full"], default="tiny")
        parser.add_argument("--clients", type=int, default=50)
        parser.add_argument("--seconds", type=float, default=20.0, help="per load phase")
        parser.add_argument("--jobs", type=int, default=200, help="jobs of the soak")
        parser.add_argument("--tokens", type=int, default=24, help="tokens per chunk")
        parser.add_argument("--out", type=Path, default=None)

    def handle(self, *args, **opts):
        from synthesis.jobs import bench

        self.opts = opts
        self.workdir = Path(settings.DATA_DIR) / "bench-ops"
        self.workdir.mkdir(parents=True, exist_ok=True)
        report = {"when": datetime.now(UTC).isoformat(), "machine": bench.machine()}
        report["database"] = settings.DATABASES["default"]["ENGINE"].rsplit(".", 1)[-1]
        report["broker"] = settings.CELERY_BROKER_URL.split(":", 1)[0]
        self.user = self._bench_user()
        what = opts["what"]
        if what in ("load", "all"):
            report["load"] = self.bench_load()
            self._say("load", report["load"])
        if what in ("recovery", "soak", "all"):
            worker = self._worker()
            try:
                voice = self._voice()
                if what in ("recovery", "all"):
                    report["recovery"] = self.bench_recovery(worker, voice)
                    self._say("recovery", report["recovery"])
                if what in ("soak", "all"):
                    report["soak"] = self.bench_soak(worker, voice)
                    self._say("soak", report["soak"])
            finally:
                worker.stop()
        out = opts["out"] or Path(settings.DATA_DIR) / "bench-ops.json"
        out.write_text(json.dumps(report, indent=2, default=str))
        self.stdout.write(json.dumps(report, indent=2, default=str))
        self._say(f"Report written to {out}")

    # --- setup -----------------------------------------------------------------------------
    def _say(self, what, data=None):
        self.stderr.write(what if data is None else f"{what}: {json.dumps(data, default=str)}")

    def _bench_user(self):
        from accounts.models import Plan, User

        plan, _ = Plan.objects.update_or_create(
            slug="bench-ops",
            defaults={
                "name": "Bench",
                "monthly_characters": 2_000_000_000,
                "concurrent_jobs": 100_000,
                "voice_slots": 100,
                "storage_mb": 100_000,
            },
        )
        user, _ = User.objects.get_or_create(email="bench-ops@example.invalid")
        user.plan = plan
        user.save()
        return user

    def _checkpoint(self) -> Path:
        from synthesis.engines.xtts.checkpoint import write_checkpoint

        size = self.opts["size"]
        path = Path(settings.DATA_DIR) / "models" / f"xtts-random-{size}"
        if not (path / "model.pth").exists():
            self._say(f"Writing a {size} random-weight checkpoint to {path} (once)")
            write_checkpoint(size=size, out_dir=path, seed=0)
        return path

    def _worker(self) -> Worker:
        env = {
            "XTTS_MODEL_DIR": str(self._checkpoint()),
            "TIMBRE_DEVICE": "cpu",
            "SYNTHESIS_DEFAULT_PARAMS": json.dumps({"max_new_tokens": self.opts["tokens"]}),
        }
        return Worker(self.workdir / f"worker-{uuid.uuid4().hex[:6]}.log", env)

    def _voice(self):
        from django.core.files.base import ContentFile
        from django.core.files.storage import default_storage

        from config import queueing
        from synthesis.management.commands.bench import _write_reference
        from voices.models import Voice

        wav = self.workdir / "reference.wav"
        _write_reference(wav)
        name = default_storage.save(f"bench/{uuid.uuid4().hex}.wav", ContentFile(wav.read_bytes()))
        voice = Voice.objects.create(
            owner=self.user, name=f"bench {uuid.uuid4().hex[:6]}", language="en", engine="xtts"
        )
        queueing.task_send(
            "voices.tasks.voice_conditioning_compute",
            voice_id=voice.pk,
            sample_names=[name],
            engine="xtts",
        )
        deadline = time.monotonic() + 600
        while voice.status == Voice.Status.BUILDING and time.monotonic() < deadline:
            time.sleep(0.5)
            voice.refresh_from_db()
        if voice.status != Voice.Status.READY:
            raise CommandError(f"the bench voice was not built: {voice.failure_reason}")
        return voice

    def _job(self, voice, text: str):
        from synthesis.jobs import services

        return services.job_create(
            owner=self.user,
            voice=voice,
            text=text,
            output_format="wav",
            params={"max_new_tokens": self.opts["tokens"], "seed": 1},
        )

    def _wait(self, job, predicate, timeout=3600.0) -> float:
        started = time.monotonic()
        while not predicate(job):
            if time.monotonic() - started > timeout:
                raise CommandError(f"timed out on job {job.code} ({job.status})")
            time.sleep(0.1)
            job.refresh_from_db()
        return time.monotonic()

    # --- recovery --------------------------------------------------------------------------
    def bench_recovery(self, worker: Worker, voice) -> dict:
        from synthesis.models import EngineStatusRecord

        text = " ".join(f"This is sentence number {n} of the recovery text." for n in range(1, 13))
        job = self._job(voice, text)
        self._wait(job, lambda j: j.status == "running" and j.chunks_done >= 2)
        [child] = worker.children()
        killed = time.monotonic()
        os.kill(child.pid, signal.SIGKILL)
        serving = self._wait(job, lambda j: j.attempts >= 2 and j.chunks_done >= 1)
        finished = self._wait(job, lambda j: j.is_terminal)
        record = EngineStatusRecord.objects.filter(engine="xtts").order_by("-updated_at").first()
        log = worker.log_path.read_text(errors="replace")
        return {
            "checkpoint": self.opts["size"],
            "job_status": job.status,
            "attempts": job.attempts,
            "chunks": job.chunks_total,
            "kill_to_serving_again_s": round(serving - killed, 2),
            "kill_to_job_finished_s": round(finished - killed, 2),
            "engine_load_s": record.load_seconds if record else None,
            "up_message_timeouts": log.count("Timed out waiting for UP message"),
        }

    # --- soak ------------------------------------------------------------------------------
    def bench_soak(self, worker: Worker, voice) -> dict:
        samples = []
        started = time.monotonic()
        count = self.opts["jobs"]
        for index in range(1, count + 1):
            job = self._job(voice, f"Soak job number {index}. It is short.")
            self._wait(job, lambda j: j.is_terminal)
            if index == 1 or index % 10 == 0 or index == count:
                rss = sum(child.memory_info().rss for child in worker.children())
                samples.append({"jobs": index, "rss_mb": round(rss / 2**20, 1)})
        rss = [s["rss_mb"] for s in samples]
        return {
            "jobs": count,
            "seconds": round(time.monotonic() - started, 1),
            "rss_mb_first": rss[0],
            "rss_mb_last": rss[-1],
            "rss_mb_max": max(rss),
            "rss_mb_growth_after_first_10_pct": round(100 * (rss[-1] - rss[1]) / rss[1], 1)
            if len(rss) > 2
            else None,
            "samples": samples,
        }

    # --- load ------------------------------------------------------------------------------
    def bench_load(self) -> dict:
        import httpx

        from accounts import services as account_services
        from accounts.models import UserAPIKey
        from voices.models import Voice

        voice = Voice.objects.filter(owner=self.user, status=Voice.Status.READY).first()
        if voice is None:  # jobs need a ready voice; its audio is never rendered here
            voice = self._fake_ready_voice()
        _, key = account_services.api_key_create(
            user=self.user, name="bench-ops", scopes=list(UserAPIKey.SCOPES)
        )
        port = _free_port()
        env = {**os.environ, "RATE_LIMIT_API": "1000000/m", "RATE_LIMIT_API_KEY": "1000000/m"}
        log = (self.workdir / "gunicorn.log").open("wb")
        server = subprocess.Popen(
            web_command(bind=f"127.0.0.1:{port}", workers=2, threads=8),
            cwd=settings.BASE_DIR,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        base = f"http://127.0.0.1:{port}"
        headers = {"Authorization": f"Bearer {key}"}
        try:
            deadline = time.monotonic() + 60
            while True:
                try:
                    httpx.get(f"{base}/api/v1/usage", headers=headers, timeout=2)
                    break
                except httpx.HTTPError:
                    if time.monotonic() > deadline:
                        raise CommandError("gunicorn did not start") from None
                    time.sleep(0.3)
            body = {
                "voice": str(voice.code),
                "text": "A short line for the load test.",
                "format": "wav",
            }
            codes: list[str] = []
            submit = self._hammer(
                base, headers, lambda c: c.post("/api/v1/synthesis", json=body), record=codes
            )
            poll = self._hammer(
                base,
                headers,
                lambda c, codes=codes: c.get(f"/api/v1/synthesis/{codes[len(codes) // 2]}"),
            )
        finally:
            server.terminate()
            server.wait(30)
            log.close()
            self._cancel_bench_jobs()
        return {
            "clients": self.opts["clients"],
            "seconds_per_phase": self.opts["seconds"],
            "web": "gunicorn 2 workers x 8 threads",
            "submit": submit,
            "poll": poll,
        }

    def _hammer(self, base: str, headers: dict, request, record: list | None = None) -> dict:
        import httpx

        latencies: list[float] = []
        statuses: dict[int, int] = {}
        lock = threading.Lock()
        stop_at = time.monotonic() + self.opts["seconds"]

        def client_loop():
            with httpx.Client(base_url=base, headers=headers, timeout=30) as client:
                while time.monotonic() < stop_at:
                    started = time.perf_counter()
                    try:
                        response = request(client)
                        status = response.status_code
                    except httpx.HTTPError:
                        status = 0
                    elapsed = time.perf_counter() - started
                    with lock:
                        latencies.append(elapsed)
                        statuses[status] = statuses.get(status, 0) + 1
                        if record is not None and status == 202:
                            record.append(response.json()["id"])

        began = time.monotonic()
        threads = [threading.Thread(target=client_loop) for _ in range(self.opts["clients"])]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        wall = time.monotonic() - began
        return {
            "requests": len(latencies),
            "rps": round(len(latencies) / wall, 1),
            "p50_ms": round(1000 * statistics.median(latencies), 1),
            "p95_ms": round(1000 * _percentile(latencies, 0.95), 1),
            "statuses": statuses,
        }

    def _fake_ready_voice(self):
        import numpy as np
        from django.core.files.base import ContentFile

        from synthesis.engines.base import Conditioning
        from voices.models import Voice

        cond = Conditioning(
            engine="xtts",
            engine_version="bench",
            params={},
            arrays={
                "gpt_cond_latent": np.zeros((1, 32, 1024), np.float32),
                "speaker_embedding": np.zeros((1, 512, 1), np.float32),
            },
        )
        voice = Voice(
            owner=self.user,
            name=f"load {uuid.uuid4().hex[:6]}",
            language="en",
            engine="xtts",
            status=Voice.Status.READY,
        )
        voice.save()
        voice.conditioning.save("conditioning.npz", ContentFile(cond.to_npz_bytes()))
        return voice

    def _cancel_bench_jobs(self) -> None:
        from synthesis.jobs import services
        from synthesis.models import SynthesisJob

        for job in SynthesisJob.objects.filter(owner=self.user, status="queued"):
            with contextlib.suppress(Exception):  # ended meanwhile
                services.job_cancel(job=job, user=self.user)
