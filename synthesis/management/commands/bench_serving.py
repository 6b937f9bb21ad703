"""`manage.py bench_serving`: many users at once, with the serving scheduler off and on.

The same load runs twice through the real HTTP API (gunicorn) and real workers: once with the
synthesis worker as deployed by default (prefork, `-c 1`, each job calls the engine itself),
once with SYNTHESIS_SCHEDULER on (`--pool threads -c SYNTHESIS_JOB_THREADS`, one engine thread
batching every job's chunks, synthesis.serving). Per mode:

- a long book (one user) starts first; then a short job of another user: its completion time
  shows whether short work waits behind a book;
- N simulated users, at once, each `--rounds` times: a short streaming request (time to first
  audio byte) and a medium job (submit to done);
- aggregate audio seconds per wall second over the mode (every job's audio, book included);
- with the scheduler, its batch-size histogram (from the worker's per-step log lines).

`--size tiny` (random-weight tiny checkpoint, CPU) runs in a few minutes; `--size full
--device cuda` is the GPU run (`--users 1,8,32` gives RTF at each concurrency). Nothing here is
a pass/fail test. Prints a table, then writes the JSON report.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

from django.conf import settings
from django.core.management.base import CommandError

from synthesis.management.commands.bench_ops import Command as BenchOpsCommand
from synthesis.management.commands.bench_ops import _free_port
from synthesis.workers.process import celery_worker_command, web_command


class Command(BenchOpsCommand):
    help = "Measure many users at once: the synthesis worker with the serving scheduler off, on."

    def add_arguments(self, parser):
        parser.add_argument("--size", choices=["tiny", "full"], default="tiny")
        parser.add_argument("--device", default="cpu", help="TIMBRE_DEVICE of the worker")
        parser.add_argument("--users", default="4", help="simulated users; 1,8,32 runs each")
        parser.add_argument("--rounds", type=int, default=2, help="stream + job per user")
        parser.add_argument("--book", type=int, default=30, help="chunks of the long book")
        parser.add_argument("--tokens", type=int, default=12, help="tokens per chunk")
        parser.add_argument("--threads", type=int, default=8, help="SYNTHESIS_JOB_THREADS")
        parser.add_argument("--modes", default="off,on", help="scheduler modes to run")
        parser.add_argument("--out", type=Path, default=None)

    def handle(self, *args, **opts):
        from synthesis.jobs import bench as engine_bench

        logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per poll otherwise
        self.opts = opts
        self.workdir = Path(settings.DATA_DIR) / "bench-serving"
        self.workdir.mkdir(parents=True, exist_ok=True)
        users = [int(n) for n in str(opts["users"]).split(",") if n.strip()]
        modes = [m.strip() for m in opts["modes"].split(",") if m.strip()]
        if not users or min(users) < 1 or set(modes) - {"off", "on"}:
            raise CommandError("--users takes counts >= 1; --modes takes off and/or on")
        report = {
            "when": datetime.now(UTC).isoformat(),
            "machine": engine_bench.machine(),
            "size": opts["size"],
            "device": opts["device"],
            "tokens_per_chunk": opts["tokens"],
            "runs": [],
        }
        self.user = self._bench_user()
        self.people = self._people(max(users) + 2)
        web = self._web()
        try:
            for mode in modes:
                for count in users:
                    run = self._mode(mode, count)
                    report["runs"].append(run)
                    self._say(f"{mode} x{count}", run)
        finally:
            web.terminate()
            web.wait(30)
        self._table(report)
        out = opts["out"] or Path(settings.DATA_DIR) / "bench-serving.json"
        out.write_text(json.dumps(report, indent=2, default=str))
        self.stdout.write(json.dumps(report, indent=2, default=str))
        self._say(f"Report written to {out}")

    # --- setup -----------------------------------------------------------------------------
    def _people(self, count: int) -> list[tuple[str, str]]:
        """(API key, voice code) of `count` bench users, one ready voice each (one built, its
        conditioning copied to the others)."""
        from django.core.files.base import ContentFile

        from accounts import services as account_services
        from accounts.models import User, UserAPIKey
        from voices.models import Voice

        self.worker = self._worker_process("off")  # builds the one voice
        try:
            built = self._voice()
        finally:
            self.worker.stop()
        with built.conditioning.open("rb") as handle:
            npz = handle.read()
        people = []
        for index in range(count):
            user, _ = User.objects.get_or_create(email=f"bench-serving-{index}@example.invalid")
            user.plan = self.user.plan
            user.save()
            voice = Voice(
                owner=user,
                name=f"serving {uuid.uuid4().hex[:6]}",
                language="en",
                engine="xtts",
                status=Voice.Status.READY,
            )
            voice.save()
            voice.conditioning.save("conditioning.npz", ContentFile(npz))
            _, key = account_services.api_key_create(
                user=user, name="bench-serving", scopes=list(UserAPIKey.SCOPES)
            )
            people.append((key, str(voice.code)))
        return people

    def _worker_process(self, mode: str):
        """The synthesis worker of `mode`, plus one for the audio and default queues."""
        env = {
            **os.environ,
            "XTTS_MODEL_DIR": str(self._checkpoint()),
            "TIMBRE_DEVICE": self.opts["device"],
            "TIMBRE_WORKER_ENGINES": "xtts",
            "SYNTHESIS_DEFAULT_PARAMS": json.dumps({"max_new_tokens": self.opts["tokens"]}),
            "SYNTHESIS_SCHEDULER": "1" if mode == "on" else "0",
            "SYNTHESIS_JOB_THREADS": str(self.opts["threads"]),
        }
        return _Workers(self.workdir, env, mode=mode, threads=self.opts["threads"])

    def _web(self) -> subprocess.Popen:
        import httpx

        self.port = _free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        env = {
            **os.environ,
            "RATE_LIMIT_API": "1000000/m",
            "RATE_LIMIT_API_KEY": "1000000/m",
            # Parameters are completed at request time: the token cap must be the web's too.
            "SYNTHESIS_DEFAULT_PARAMS": json.dumps({"max_new_tokens": self.opts["tokens"]}),
        }
        log = (self.workdir / "gunicorn.log").open("wb")
        server = subprocess.Popen(
            web_command(bind=f"127.0.0.1:{self.port}", workers=2, threads=32),
            cwd=settings.BASE_DIR,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 60
        while True:
            try:
                httpx.get(f"{self.base}/api/v1/usage", timeout=2)
                return server
            except httpx.HTTPError:
                if time.monotonic() > deadline or server.poll() is not None:
                    raise CommandError("gunicorn did not start") from None
                time.sleep(0.3)

    # --- one mode --------------------------------------------------------------------------
    def _mode(self, mode: str, count: int) -> dict:
        import httpx

        from synthesis.models import SynthesisJob
        from synthesis.serving.bench import Load, book_text, steps_from_log, summary

        workers = self._worker_process(mode)
        try:
            workers.wait_loaded()
            began = time.monotonic()
            since = datetime.now(UTC)
            (book_key, book_voice), (short_key, short_voice) = self.people[:2]
            load = Load(
                base=self.base,
                keys=[key for key, _ in self.people[2 : 2 + count]],
                voices=[voice for _, voice in self.people[2 : 2 + count]],
                rounds=self.opts["rounds"],
            )
            headers = {"Authorization": f"Bearer {book_key}"}
            with httpx.Client(base_url=self.base, headers=headers, timeout=60) as client:
                book = client.post(
                    "/api/v1/synthesis",
                    json={"voice": book_voice, "text": book_text(self.opts["book"])},
                )
                if book.status_code != 202:
                    raise CommandError(f"the book was refused: {book.text}")
                book_code = book.json()["id"]
                while client.get(f"/api/v1/synthesis/{book_code}").json()["progress"] <= 0:
                    time.sleep(0.1)
            short_load = Load(base=self.base, keys=[short_key], voices=[short_voice], rounds=1)
            with short_load.client(0) as client:
                short = short_load.job(client, short_voice, "A short job beside the book.")
            book_running = SynthesisJob.objects.get(code=book_code).status == "running"
            wall = load.run(range(count))
            book_job = SynthesisJob.objects.get(code=book_code)
            while not book_job.is_terminal:
                time.sleep(0.2)
                book_job.refresh_from_db()
            total_wall = time.monotonic() - began
            jobs = SynthesisJob.objects.filter(
                owner__email__startswith="bench-serving-", created_at__gte=since
            )
            audio = sum(job.audio_seconds or 0 for job in jobs if job.status == "succeeded")
            log = workers.synthesis_log()
        finally:
            workers.stop()
        run = {
            "mode": "scheduler" if mode == "on" else "prefork -c 1",
            "users": count,
            "rounds": self.opts["rounds"],
            "book_chunks": self.opts["book"],
            "wall_s": round(total_wall, 2),
            "load_wall_s": round(wall, 2),
            "audio_s": round(audio, 2),
            "audio_s_per_wall_s": round(audio / total_wall, 3),
            "stream_first_audio": summary(load.first_audio),
            "medium_job_done": summary(load.job_seconds),
            "short_job_beside_book_s": round(short[1], 2) if short else None,
            "book_still_running_when_short_done": book_running,
            "errors": dict(load.errors + short_load.errors),
        }
        if mode == "on":
            run["scheduler"] = steps_from_log(log)
        return run

    def _table(self, report: dict) -> None:
        header = (
            f"{'mode':<14}{'users':>6}{'audio s/s':>10}{'TTFA p50':>10}{'TTFA p95':>10}"
            f"{'short|book':>11}{'mean batch':>11}  histogram"
        )
        lines = [header, "-" * len(header)]
        for run in report["runs"]:
            sched = run.get("scheduler", {})
            lines.append(
                f"{run['mode']:<14}{run['users']:>6}{run['audio_s_per_wall_s']:>10}"
                f"{_s(run['stream_first_audio']['p50_s']):>10}"
                f"{_s(run['stream_first_audio']['p95_s']):>10}"
                f"{_s(run['short_job_beside_book_s']):>11}"
                f"{_s(sched.get('mean_batch')):>11}  {sched.get('batch_histogram', '')}"
            )
        self.stderr.write("\n".join(lines))


def _s(value) -> str:
    return "-" if value is None else str(value)


class _Workers:
    """A synthesis worker (prefork -c 1, or the threads pool with the scheduler) and a prefork
    worker for the audio and default queues."""

    def __init__(self, workdir: Path, env: dict, *, mode: str, threads: int) -> None:
        self.logs: list[Path] = []
        self.procs: list[subprocess.Popen] = []
        self._files = []
        self.name = f"serving-{mode}-{uuid.uuid4().hex[:6]}"
        if mode == "on":
            synthesis = celery_worker_command(
                queues=("synthesis",), name=f"{self.name}@%h", concurrency=threads, pool="threads"
            )
        else:
            synthesis = celery_worker_command(queues=("synthesis",), name=f"{self.name}@%h")
        other = celery_worker_command(queues=("audio", "default"), name=f"{self.name}-io@%h")
        for command in (synthesis, other):
            log = workdir / f"worker-{uuid.uuid4().hex[:6]}.log"
            handle = log.open("wb")
            self._files.append(handle)
            self.logs.append(log)
            self.procs.append(
                subprocess.Popen(
                    command, env=env, cwd=settings.BASE_DIR, stdout=handle, stderr=subprocess.STDOUT
                )
            )
        deadline = time.monotonic() + 300
        for proc, log in zip(self.procs, self.logs, strict=True):
            while " ready." not in log.read_text(errors="replace"):
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise CommandError(f"worker did not start:\n{log.read_text()[-3000:]}")
                time.sleep(0.3)
        self.log_path = self.logs[0]

    def wait_loaded(self, timeout: float = 600) -> None:
        from synthesis.models import EngineStatusRecord

        deadline = time.monotonic() + timeout
        mine = EngineStatusRecord.objects.filter(
            hostname__startswith=self.name + "@", engine="xtts", ready=True
        )
        while not mine.exists():
            if time.monotonic() > deadline or self.procs[0].poll() is not None:
                raise CommandError(f"the engine did not load:\n{self.synthesis_log()[-3000:]}")
            time.sleep(0.5)

    def synthesis_log(self) -> str:
        return self.logs[0].read_text(errors="replace")

    def stop(self) -> None:
        for proc in self.procs:
            proc.terminate()
        for proc in self.procs:
            try:
                proc.wait(60)
            except subprocess.TimeoutExpired:
                proc.kill()
        for handle in self._files:
            handle.close()
