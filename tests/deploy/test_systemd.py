"""deploy/systemd: the units run what compose runs, stop Celery warmly, read one environment
file, and (where systemd-analyze exists) are valid unit files."""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SYSTEMD = REPO / "deploy" / "systemd"
UNITS = (
    "timbre-web.service",
    "timbre-asgi.service",
    "timbre-worker@.service",
    "timbre-beat.service",
)


def unit(name: str) -> dict[str, list[str]]:
    """Key -> values of a unit file ([Service] keys may repeat), continuation lines joined."""
    text = re.sub(r"\\\n\s*", " ", (SYSTEMD / name).read_text())
    values: dict[str, list[str]] = {}
    for line in text.splitlines():
        if line and not line.startswith(("#", "[")):
            key, _, value = line.partition("=")
            values.setdefault(key, []).append(value)
    return values


def env_file(name: str) -> dict[str, str]:
    lines = (SYSTEMD / name).read_text().splitlines()
    return dict(line.split("=", 1) for line in lines if line and not line.startswith("#"))


def _seconds(value: str) -> int:
    return int(value[:-3]) * 60 if value.endswith("min") else int(value.rstrip("s"))


@pytest.mark.parametrize("name", UNITS)
def test_every_unit_reads_the_environment_file_and_restarts(name):
    values = unit(name)
    assert values["EnvironmentFile"][0] == "/etc/timbre/timbre.env"
    assert values["Restart"] == ["always"]
    assert values["User"] == ["timbre"]
    assert "DJANGO_SETTINGS_MODULE=config.settings.production" in values["Environment"]


def test_web_is_gunicorn_on_the_address_nginx_proxies_to():
    args = shlex.split(unit("timbre-web.service")["ExecStart"][0])
    assert args[:2] == ["/srv/timbre/.venv/bin/gunicorn", "config.wsgi"]
    bind = args[args.index("--bind") + 1]
    assert f"server {bind};" in (REPO / "deploy" / "nginx" / "upstream-host.conf").read_text()


def test_asgi_is_uvicorn_on_the_address_nginx_sends_streams_to():
    args = shlex.split(unit("timbre-asgi.service")["ExecStart"][0])
    assert args[:2] == ["/srv/timbre/.venv/bin/uvicorn", "config.asgi:application"]
    bind = f"{args[args.index('--host') + 1]}:{args[args.index('--port') + 1]}"
    upstreams = (REPO / "deploy" / "nginx" / "upstream-host.conf").read_text()
    assert re.search(r"upstream timbre_asgi \{\s*server " + re.escape(bind) + ";", upstreams)
    # Behind nginx only: the client address comes from it, and only from it.
    assert args[args.index("--forwarded-allow-ips") + 1] == "127.0.0.1"
    assert "--proxy-headers" in args


def test_workers_stop_warmly_and_name_their_queues():
    values = unit("timbre-worker@.service")
    args = shlex.split(values["ExecStart"][0])
    assert args[:4] == ["/srv/timbre/.venv/bin/celery", "-A", "config", "worker"]
    assert args[args.index("-Q") + 1] == "${TIMBRE_QUEUES}"
    assert args[args.index("-c") + 1] == "1"
    # The instance is the queue unless /etc/timbre/worker-<instance>.env says otherwise (later
    # EnvironmentFile= settings override Environment=).
    assert "TIMBRE_QUEUES=%i" in values["Environment"]
    assert values["EnvironmentFile"][1] == "-/etc/timbre/worker-%i.env"
    # SIGTERM to the main process only: Celery's warm shutdown, pool processes untouched.
    assert values["KillSignal"] == ["SIGTERM"]
    assert values["KillMode"] == ["mixed"]
    assert _seconds(values["TimeoutStopSec"][0]) >= 300


def test_the_worker_instances_cover_every_queue():
    queues = {"audio", "default"}  # timbre-worker@audio, timbre-worker@default
    engines = set()
    for path in SYSTEMD.glob("worker-*.env"):
        env = env_file(path.name)
        instance = path.stem.removeprefix("worker-")
        assert env["TIMBRE_WORKER_ENGINES"] == instance
        assert f"synthesis.{instance}" in env["TIMBRE_QUEUES"].split(",")
        queues |= set(env["TIMBRE_QUEUES"].split(","))
        engines.add(instance)
    assert engines == {"xtts", "chatterbox", "piper"}
    assert queues == {
        "synthesis",
        "synthesis.xtts",
        "synthesis.chatterbox",
        "synthesis.piper",
        "audio",
        "default",
    }


def test_beat_keeps_its_schedule_in_its_state_directory():
    values = unit("timbre-beat.service")
    args = shlex.split(values["ExecStart"][0])
    assert args[:4] == ["/srv/timbre/.venv/bin/celery", "-A", "config", "beat"]
    assert args[args.index("--schedule") + 1].startswith(f"/var/lib/{values['StateDirectory'][0]}/")


def test_systemd_accepts_the_units(tmp_path):
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.skip("systemd-analyze is not installed")
    # The same units, pointed at stand-ins for the virtualenv and /etc/timbre.
    bin_dir = tmp_path / "srv" / ".venv" / "bin"
    bin_dir.mkdir(parents=True)
    for program in ("gunicorn", "uvicorn", "celery"):
        (bin_dir / program).write_text("#!/bin/sh\n")
        (bin_dir / program).chmod(0o755)
    (tmp_path / "etc").mkdir()
    (tmp_path / "etc" / "timbre.env").write_text("")
    units = tmp_path / "units"
    units.mkdir()
    for name in UNITS:
        text = (SYSTEMD / name).read_text().replace("/srv/timbre", str(tmp_path / "srv"))
        (units / name).write_text(text.replace("/etc/timbre/", f"{tmp_path}/etc/"))
    shutil.copy(units / "timbre-worker@.service", units / "timbre-worker@audio.service")
    names = [
        "timbre-web.service",
        "timbre-asgi.service",
        "timbre-beat.service",
        "timbre-worker@audio.service",
    ]
    result = subprocess.run(
        [analyze, "verify", "--man=no", *names],
        cwd=units,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    problems = [
        line
        for line in result.stderr.splitlines()
        if str(units) in line or "Unknown" in line or "ignoring" in line
    ]
    assert result.returncode == 0, result.stderr
    assert not problems, problems
