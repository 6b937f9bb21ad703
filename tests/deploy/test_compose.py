"""deploy/docker-compose.yml: valid (the vendored compose-spec schema, and the compose CLI where
installed), and the shape production needs: every queue consumed, one synthesis worker per
engine with XTTS on a GPU, one beat."""

from __future__ import annotations

import ast
import json
import re
import shlex
import shutil
import subprocess
from pathlib import Path

import jsonschema
import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
DEPLOY = REPO / "deploy"
COMPOSE_FILE = DEPLOY / "docker-compose.yml"
# compose-spec/compose-spec, schema/compose-spec.json at 170098ba07d9 (2026-06-23).
SCHEMA = DEPLOY / "lint" / "compose-spec.json"

SERVICES = {
    "postgres",
    "rabbitmq",
    "redis",
    "migrate",
    "web",
    "asgi",
    "worker-xtts",
    "worker-chatterbox",
    "worker-piper",
    "worker-audio",
    "worker-default",
    "beat",
    "nginx",
}
GPU_ENGINES = {"xtts", "chatterbox"}  # engines whose worker must reserve a GPU


@pytest.fixture(scope="module")
def compose():
    return yaml.safe_load(COMPOSE_FILE.read_text())  # PyYAML resolves the `<<` merges


@pytest.fixture(scope="module")
def services(compose):
    return compose["services"]


def engines() -> list[str]:
    """Engine names from the default TIMBRE_ENGINES in config/settings/base.py."""
    tree = ast.parse((REPO / "config" / "settings" / "base.py").read_text())
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Call)
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and node.args[0].value == "TIMBRE_ENGINES"
        ):
            default = next(kw.value for kw in node.keywords if kw.arg == "default")
            return [package.rsplit(".", 1)[-1] for package in ast.literal_eval(default)]
    raise AssertionError("TIMBRE_ENGINES not found in base.py")


def command(service: dict) -> list[str]:
    value = service.get("command", [])
    return shlex.split(value) if isinstance(value, str) else list(value)


def celery_workers(services) -> dict[str, dict]:
    """Service name -> its worker options (-Q as a list, -c, -n)."""
    workers = {}
    for name, service in services.items():
        args = command(service)
        if args[:4] != ["celery", "-A", "config", "worker"]:
            continue
        options = dict(zip(args[4::2], args[5::2], strict=False))
        workers[name] = {**options, "queues": options["-Q"].split(",")}
    return workers


def expected_queues() -> set[str]:
    return {"synthesis", "audio", "default"} | {f"synthesis.{name}" for name in engines()}


def test_every_service_is_there_and_restarts(services):
    assert set(services) >= SERVICES
    for name, service in services.items():
        expected = "no" if name == "migrate" else "unless-stopped"  # a one-shot must not loop
        assert service.get("restart") == expected, name


def test_backing_services_have_healthchecks_and_the_app_waits_for_them(services):
    for name in ("postgres", "rabbitmq", "redis"):
        assert services[name]["healthcheck"]["test"], name
    for name in ("web", "asgi", "beat", *celery_workers(services)):
        depends = services[name]["depends_on"]
        for backing in ("postgres", "rabbitmq", "redis"):
            assert depends[backing]["condition"] == "service_healthy", (name, backing)
        assert depends["migrate"]["condition"] == "service_completed_successfully", name
    assert "manage.py migrate" in " ".join(command(services["migrate"]))


def test_app_services_share_broker_cache_database_and_env_file(services):
    for name in ("migrate", "web", "asgi", "beat", *celery_workers(services)):
        service = services[name]
        env = service["environment"]
        assert service["env_file"] == ".env", name
        assert re.fullmatch(r"amqp://.+@rabbitmq:5672//", env["CELERY_BROKER_URL"]), name
        assert env["REDIS_URL"] == "redis://redis:6379/0", name
        assert "@postgres:5432/" in env["DATABASE_URL"], name
        assert env["DJANGO_SETTINGS_MODULE"] == "config.settings.production", name


def test_web_runs_gunicorn_behind_nginx(services):
    args = command(services["web"])
    assert args[:2] == ["gunicorn", "config.wsgi"]
    assert "0.0.0.0:8000" in args
    assert "ports" not in services["web"]  # only nginx is published
    mounts = {volume.split(":")[1]: volume.split(":")[0] for volume in services["nginx"]["volumes"]}
    assert mounts["/etc/nginx/conf.d/default.conf"] == "./nginx/timbre.conf"
    for source in mounts.values():
        assert (DEPLOY / source).is_file(), source
    assert "server web:8000" in (DEPLOY / "nginx" / "upstream-compose.conf").read_text()


def test_asgi_runs_uvicorn_behind_nginx_for_streams_and_websockets(services):
    args = command(services["asgi"])
    assert args[:2] == ["uvicorn", "config.asgi:application"]
    port = args[args.index("--port") + 1]
    assert args[args.index("--host") + 1] == "0.0.0.0"  # noqa: S104 (in its container)
    assert "--proxy-headers" in args  # the client address nginx forwards
    assert "ports" not in services["asgi"]  # only nginx is published
    assert services["asgi"]["image"] == services["web"]["image"]
    upstreams = (DEPLOY / "nginx" / "upstream-compose.conf").read_text()
    assert f"server asgi:{port} resolve;" in upstreams
    assert services["nginx"]["depends_on"]["asgi"]["condition"] == "service_healthy"
    assert f"127.0.0.1:{port}/health/live" in " ".join(services["asgi"]["healthcheck"]["test"])


def test_workers_cover_every_queue_between_them(services):
    workers = celery_workers(services)
    consumed = [queue for worker in workers.values() for queue in worker["queues"]]
    assert set(consumed) == expected_queues()
    assert len(consumed) == len(set(consumed)), "two services consume the same queue"
    names = [worker["-n"] for worker in workers.values()]
    assert len(names) == len(set(names))
    for name, worker in workers.items():
        assert worker["-c"] == "1", name
        assert worker["-n"].endswith("@%h"), name
        assert "-B" not in command(services[name]), "beat runs in its own service only"


def test_one_synthesis_worker_per_engine_with_its_engine_and_models(services, env_example):
    workers = celery_workers(services)
    model_dir = next(e.value for e in env_example if e.name == "XTTS_MODEL_DIR")
    for engine in engines():
        serving = [name for name, w in workers.items() if f"synthesis.{engine}" in w["queues"]]
        assert len(serving) == 1, (engine, serving)
        service = services[serving[0]]
        assert service["environment"]["TIMBRE_WORKER_ENGINES"] == engine
        assert _duration_seconds(service["stop_grace_period"]) >= 300  # jobs may finish
        assert "models:/models" in service["volumes"]
        reservation = service.get("deploy", {}).get("resources", {}).get("reservations", {})
        if engine in GPU_ENGINES:
            assert reservation["devices"] == [
                {"driver": "nvidia", "count": 1, "capabilities": ["gpu"]}
            ]
        else:
            assert not reservation, f"{engine} runs on the CPU"
    assert model_dir.startswith("/models/")
    # The engine-less `synthesis` queue goes to the cloning engine's worker.
    assert "synthesis" in workers["worker-xtts"]["queues"]


def test_exactly_one_beat(services):
    beats = [
        name for name, s in services.items() if command(s)[:4] == ["celery", "-A", "config", "beat"]
    ]
    assert beats == ["beat"]
    assert "deploy" not in services["beat"]  # no replicas


def test_images_build_from_the_new_dockerfiles(services):
    dockerfiles = {s["build"]["dockerfile"] for s in services.values() if "build" in s}
    assert dockerfiles == {"deploy/Dockerfile.web", "deploy/Dockerfile.worker"}
    for dockerfile in dockerfiles:
        assert (REPO / dockerfile).is_file()
    assert not (DEPLOY / "Dockerfile").exists()
    for name in ("worker-xtts", "worker-chatterbox", "worker-piper", "worker-audio"):
        assert services[name]["build"]["dockerfile"] == "deploy/Dockerfile.worker", name
    for name in ("web", "migrate", "worker-default", "beat"):
        assert services[name]["build"]["dockerfile"] == "deploy/Dockerfile.web", name


def test_worker_image_pins_torch_as_the_requirements_do():
    dockerfile = (DEPLOY / "Dockerfile.worker").read_text()
    pins = dict(
        re.findall(
            r"^(torch|torchaudio)==(\S+)$", (REPO / "requirements/worker.txt").read_text(), re.M
        )
    )
    assert set(pins) == {"torch", "torchaudio"}
    install = re.search(
        r"pip install --index-url \S*download\.pytorch\.org/whl/\S+\s*\\\s*\n(.+)", dockerfile
    )
    assert install, "torch comes from the CUDA wheel index"
    assert set(install[1].split()) == {f"{name}=={version}" for name, version in pins.items()}
    assert "requirements/worker.txt" in dockerfile
    assert re.search(r"^FROM \$\{CUDA_IMAGE\}$", dockerfile, re.M)
    assert re.search(r"^ARG CUDA_IMAGE=nvidia/cuda:\S+$", dockerfile, re.M)
    assert re.search(r"^USER timbre$", dockerfile, re.M)


def test_web_image_has_no_worker_requirements_and_collects_static():
    dockerfile = (DEPLOY / "Dockerfile.web").read_text()
    assert re.search(r"^FROM python:3\.11-slim-bookworm$", dockerfile, re.M)
    installs = re.findall(r"pip install .*", dockerfile)
    assert installs == ["pip install -r requirements/base.txt"]  # no torch, no worker.txt
    assert "manage.py collectstatic" in dockerfile
    assert re.search(r"^USER timbre$", dockerfile, re.M)
    ignored = (DEPLOY / "Dockerfile.web.dockerignore").read_text().split()
    assert "deploy/.env" in ignored and ".venv/" in ignored  # no secrets, no 5 GB context


def test_rabbitmq_waits_for_long_tasks_before_redelivering(services):
    mounted = [v for v in services["rabbitmq"]["volumes"] if v.startswith("./rabbitmq/")]
    assert mounted == ["./rabbitmq/timbre.conf:/etc/rabbitmq/conf.d/20-timbre.conf:ro"]
    conf = (DEPLOY / "rabbitmq" / "timbre.conf").read_text()
    timeout_ms = int(re.search(r"^consumer_timeout = (\d+)$", conf, re.M)[1])
    base = (REPO / "config" / "settings" / "base.py").read_text()
    hard_limit = re.search(r'"CELERY_TASK_TIME_LIMIT", default=([\d *+]+)\)', base)[1]
    assert timeout_ms / 1000 > eval(hard_limit)  # noqa: S307 (a literal from our own settings)


def test_every_compose_variable_is_documented_in_env_example(env_example):
    used = set(re.findall(r"\$\{([A-Z][A-Z0-9_]*)", COMPOSE_FILE.read_text()))
    assert used, "the compose file interpolates the passwords"
    assert used <= {entry.name for entry in env_example}


def test_compose_file_matches_the_compose_spec_schema(compose):
    schema = json.loads(SCHEMA.read_text())
    jsonschema.validate(compose, schema)
    broken = yaml.safe_load(COMPOSE_FILE.read_text())
    broken["services"]["web"]["restart"] = ["always"]
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(broken, schema)


def _compose_cli() -> list[str] | None:
    docker = shutil.which("docker")
    if docker:
        probe = subprocess.run([docker, "compose", "version"], capture_output=True, check=False)
        if probe.returncode == 0:
            return [docker, "compose"]
    legacy = shutil.which("docker-compose")
    return [legacy] if legacy else None


def _project(tmp_path: Path, env_text: str) -> Path:
    """deploy/ as compose sees it, with `env_text` as its .env (the real one stays untouched)."""
    deploy = tmp_path / "deploy"
    deploy.mkdir(parents=True)
    shutil.copy(COMPOSE_FILE, deploy)
    for folder in ("nginx", "rabbitmq"):
        shutil.copytree(DEPLOY / folder, deploy / folder)
    (deploy / ".env").write_text(env_text)
    return deploy


def test_compose_cli_accepts_the_file_once_the_passwords_are_set(tmp_path, clean_env):
    cli = _compose_cli()
    if cli is None:
        pytest.skip("no `docker compose` or `docker-compose` (deploy/system-deps.sh test)")
    example = (DEPLOY / ".env.example").read_text()

    def config(deploy: Path, *args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [*cli, "-f", str(deploy / "docker-compose.yml"), "config", *args],
            env=clean_env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )

    refused = config(_project(tmp_path / "as-is", example), "-q")
    assert refused.returncode != 0
    assert "POSTGRES_PASSWORD" in refused.stderr

    filled = example.replace("POSTGRES_PASSWORD=\n", "POSTGRES_PASSWORD=pgsecret\n")
    filled = filled.replace("RABBITMQ_DEFAULT_PASS=\n", "RABBITMQ_DEFAULT_PASS=mqsecret\n")
    deploy = _project(tmp_path / "filled", filled)
    assert config(deploy, "-q").returncode == 0
    resolved = yaml.safe_load(config(deploy).stdout)["services"]
    env = resolved["worker-xtts"]["environment"]
    assert env["CELERY_BROKER_URL"] == "amqp://timbre:mqsecret@rabbitmq:5672//"
    assert env["DATABASE_URL"] == "postgres://timbre:pgsecret@postgres:5432/timbre"
    assert env["ALLOWED_HOSTS"] == "timbre.example.com"  # from env_file
    assert env["TIMBRE_WORKER_ENGINES"] == "xtts"


def _duration_seconds(value: str) -> float:
    units = {"h": 3600, "m": 60, "s": 1}
    return sum(float(n) * units[u] for n, u in re.findall(r"(\d+(?:\.\d+)?)([hms])", value))
