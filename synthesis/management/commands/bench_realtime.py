"""`manage.py bench_realtime`: the WebSocket stream-input figures (issue 13, item 3), measured
through a live uvicorn process (config.asgi) and a real worker on the random-weight checkpoint.

- latency: time from sending the first text message (enough text to start a generation) to
  receiving the first audio message, p50 / p95 over --runs connections, one after another.
- idle: how many stream-input connections one uvicorn process holds open at once while the
  synthesis worker is busy with another job: connections are opened (each authenticated, its
  first message sent) until one fails or --connections is reached, then every one is pinged
  and must answer. The server's memory and open files are reported beside the count.

It starts its own worker and uvicorn (plain ws:// on loopback), with a bench user whose plan
refuses nothing; nothing here is a pass/fail test. Prints a table, then the JSON report.
"""

from __future__ import annotations

import asyncio
import json
import os
import resource
import subprocess
import time
from datetime import UTC, datetime
from pathlib import Path

from django.conf import settings
from django.core.management.base import CommandError

from synthesis.management.commands.bench_ops import Command as BenchOpsCommand
from synthesis.management.commands.bench_ops import _free_port, _percentile
from synthesis.workers.process import asgi_command

FIRST_TEXT = "Hello there, this is a voice agent answering you right now. "
BUSY_TEXT = " ".join(
    f"Sentence {n} keeps the synthesis worker busy for a while." for n in range(60)
)


class Command(BenchOpsCommand):
    help = "Measure stream-input latency to first audio and idle connections one uvicorn holds."

    def add_arguments(self, parser):
        parser.add_argument("--runs", type=int, default=10)
        parser.add_argument("--connections", type=int, default=500, help="cap of the idle test")
        parser.add_argument("--size", choices=["tiny", "full"], default="tiny")
        parser.add_argument("--tokens", type=int, default=10, help="tokens per chunk")
        parser.add_argument("--format", default="mp3_44100_128", help="output_format")
        parser.add_argument("--out", type=Path, default=None)

    def handle(self, *args, **opts):
        from accounts import services as account_services
        from synthesis.jobs import bench

        self.opts = opts
        self.workdir = Path(settings.DATA_DIR) / "bench-realtime"
        self.workdir.mkdir(parents=True, exist_ok=True)
        _raise_open_files_limit()  # the server inherits it: many sockets on both sides
        self.user = self._bench_user()
        _, self.key = account_services.api_key_create(
            user=self.user, name="bench-realtime", scopes=["tts"]
        )
        report = {"when": datetime.now(UTC).isoformat(), "machine": bench.machine()}
        report["database"] = settings.DATABASES["default"]["ENGINE"].rsplit(".", 1)[-1]
        report["channel"] = "redis" if settings.REDIS_URL else "files"
        worker = self._worker()
        server = None
        try:
            voice = self._voice()
            server = self._uvicorn()
            since = datetime.now(UTC)
            report["latency"] = asyncio.run(self._latency(voice))
            report["latency"]["queue_wait_p50_s"] = self._queue_wait(since)
            report["idle"] = self._idle(voice, server)
        finally:
            if server is not None:
                server.terminate()
                server.wait(30)
            worker.stop()
            self._cancel_bench_jobs()
        self._table(report)
        out = opts["out"] or Path(settings.DATA_DIR) / "bench-realtime.json"
        out.write_text(json.dumps(report, indent=2, default=str))
        self.stdout.write(json.dumps(report, indent=2, default=str))
        self._say(f"Report written to {out}")

    # --- the server ------------------------------------------------------------------------
    def _uvicorn(self) -> subprocess.Popen:
        self.port = _free_port()
        env = {
            **os.environ,
            "RATE_LIMIT_API": "1000000/m",
            "RATE_LIMIT_API_KEY": "1000000/m",
            "SYNTHESIS_DEFAULT_PARAMS": json.dumps({"max_new_tokens": self.opts["tokens"]}),
        }
        self.server_log = self.workdir / "uvicorn.log"
        server = subprocess.Popen(
            asgi_command(host="127.0.0.1", port=self.port, workers=1),
            cwd=settings.BASE_DIR,
            env=env,
            stdout=self.server_log.open("wb"),
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 60
        while "Application startup complete" not in self.server_log.read_text(errors="replace"):
            if server.poll() is not None or time.monotonic() > deadline:
                raise CommandError(f"uvicorn did not start:\n{self.server_log.read_text()}")
            time.sleep(0.2)
        return server

    def _url(self, voice, **query) -> str:
        params = "&".join(
            f"{k}={v}" for k, v in {"output_format": self.opts["format"], **query}.items()
        )
        return f"ws://127.0.0.1:{self.port}/v1/text-to-speech/{voice.code}/stream-input?{params}"

    async def _open(self, voice, **query):
        from websockets.asyncio.client import connect

        socket = await connect(
            self._url(voice, **query), additional_headers={"xi-api-key": self.key}, open_timeout=30
        )
        await socket.send(
            json.dumps({"text": " ", "generation_config": {"chunk_length_schedule": [50]}})
        )
        return socket

    # --- latency ---------------------------------------------------------------------------
    async def _latency(self, voice) -> dict:
        seconds = []
        for _ in range(self.opts["runs"]):
            async with await self._open(voice) as socket:
                started = time.monotonic()
                await socket.send(json.dumps({"text": FIRST_TEXT, "try_trigger_generation": True}))
                while True:
                    message = json.loads(await asyncio.wait_for(socket.recv(), 300))
                    if message.get("audio"):
                        seconds.append(time.monotonic() - started)
                        break
                    if "error" in message:
                        raise CommandError(f"stream-input refused: {message}")
                await socket.send(json.dumps({"text": ""}))
                async for _ in socket:  # the rest, until the server closes
                    pass
        return {
            "runs": len(seconds),
            "text_characters": len(FIRST_TEXT),
            "output_format": self.opts["format"],
            "first_audio_p50_s": round(_percentile(seconds, 0.5), 3),
            "first_audio_p95_s": round(_percentile(seconds, 0.95), 3),
            "first_audio_min_s": round(min(seconds), 3),
            "first_audio_max_s": round(max(seconds), 3),
        }

    def _queue_wait(self, since) -> float | None:
        """Median time from a job's acceptance to a worker starting it (broker and pick-up):
        part of the time to first audio that is not the web server's."""
        from synthesis.models import SynthesisJob

        jobs = SynthesisJob.objects.filter(owner=self.user, created_at__gte=since)
        waits = [
            (job.started_at - job.created_at).total_seconds()
            for job in jobs.exclude(started_at=None)
        ]
        return round(_percentile(waits, 0.5), 3) if waits else None

    # --- idle connections --------------------------------------------------------------------
    def _idle(self, voice, server) -> dict:
        import psutil

        from synthesis.jobs import services
        from synthesis.models import SynthesisJob

        busy = services.job_create(
            owner=self.user, voice=voice, text=BUSY_TEXT, output_format="wav"
        )
        self._wait(busy, lambda job: job.status == SynthesisJob.Status.RUNNING)
        result = asyncio.run(self._hold(voice, psutil.Process(server.pid)))
        busy.refresh_from_db()
        result["worker_busy_until_checked"] = busy.status == SynthesisJob.Status.RUNNING
        return result

    async def _hold(self, voice, process) -> dict:
        sockets, failure, started = [], None, time.monotonic()
        while len(sockets) < self.opts["connections"]:
            try:
                sockets.append(await self._open(voice, inactivity_timeout=180))
            except Exception as exc:  # the limit: whatever failed first
                failure = f"{type(exc).__name__}: {exc}"
                break
        opened_s = time.monotonic() - started
        pongs = await asyncio.gather(*(_pinged(s) for s in sockets))
        memory = process.memory_info().rss
        files = process.num_fds()
        await asyncio.gather(*(s.close() for s in sockets), return_exceptions=True)
        return {
            "cap": self.opts["connections"],
            "opened": len(sockets),
            "answered_ping": sum(pongs),
            "first_failure": failure,
            "seconds_to_open_all": round(opened_s, 1),
            "server_rss_mb": round(memory / 2**20, 1),
            "server_open_files": files,
            "server": "uvicorn, 1 process",
        }

    def _table(self, report: dict) -> None:
        latency, idle = report["latency"], report["idle"]
        rows = [
            ("first text -> first audio, p50", f"{latency['first_audio_p50_s']} s"),
            ("first text -> first audio, p95", f"{latency['first_audio_p95_s']} s"),
            ("  of which queue wait, p50", f"{latency['queue_wait_p50_s']} s"),
            ("runs / output format", f"{latency['runs']} / {latency['output_format']}"),
            ("idle connections held (cap)", f"{idle['opened']} ({idle['cap']})"),
            ("  of which answered a ping", str(idle["answered_ping"])),
            ("  worker busy throughout", str(idle["worker_busy_until_checked"])),
            (
                "  server memory / open files",
                f"{idle['server_rss_mb']} MB / {idle['server_open_files']}",
            ),
            ("  first failure", str(idle["first_failure"])),
        ]
        width = max(len(name) for name, _ in rows)
        for name, value in rows:
            self.stderr.write(f"{name.ljust(width)}  {value}")


async def _pinged(socket) -> bool:
    try:
        waiter = await socket.ping()
        await asyncio.wait_for(waiter, 30)
        return True
    except Exception:
        return False


def _raise_open_files_limit() -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
