"""deploy/backup.sh and deploy/restore.sh, for real: a migrated database with rows and a media
tree go out and come back byte-identical, into an empty target only (unless --force).

PostgreSQL runs against 127.0.0.1:5432 as `postgres` (trust), in scratch databases named
timbre_backup_{src,dst}_<random> that are dropped afterwards; it is skipped when pg_isready
fails there. SQLite always runs."""

from __future__ import annotations

import os
import secrets
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
BACKUP = REPO / "deploy" / "backup.sh"
RESTORE = REPO / "deploy" / "restore.sh"
PG = ["-h", "127.0.0.1", "-p", "5432", "-U", "postgres"]
ADMIN = {"DJANGO_SUPERUSER_EMAIL": "admin@example.com", "DJANGO_SUPERUSER_PASSWORD": "pw-A1b2"}


def _postgres_ready() -> bool:
    tools = ("pg_isready", "psql", "pg_dump", "pg_restore")
    if not all(shutil.which(tool) for tool in tools):
        return False
    probe = subprocess.run(["pg_isready", "-h", "127.0.0.1"], capture_output=True, check=False)
    return probe.returncode == 0


needs_postgres = pytest.mark.skipif(
    not _postgres_ready(), reason="no PostgreSQL at 127.0.0.1 (pg_isready)"
)


def _run(args, env, *, ok=True, stdin=None) -> subprocess.CompletedProcess:
    result = subprocess.run(
        [str(arg) for arg in args],
        env=env,
        cwd=REPO,
        capture_output=True,
        text=True,
        input=stdin,
        timeout=120,
        check=False,
    )
    if ok:
        assert result.returncode == 0, f"{args}: {result.stderr}"
    return result


def _psql(database: str, sql: str) -> str:
    return _run(
        ["psql", *PG, "-X", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-d", database, "-c", sql], None
    ).stdout


def _pg_data(database: str) -> str:
    """Every row of every table, as pg_dump writes them (its random \\restrict keys left out)."""
    dump = _run(["pg_dump", *PG, "--data-only", "--no-owner", database], None).stdout
    return "\n".join(
        line for line in dump.splitlines() if not line.startswith(("\\restrict", "\\unrestrict"))
    )


@pytest.fixture
def pg_databases():
    """Names for a source and a target database; both are dropped afterwards."""
    token = secrets.token_hex(4)
    names = (f"timbre_backup_src_{token}", f"timbre_backup_dst_{token}")
    yield names
    for name in names:
        assert name.startswith("timbre_backup_")  # never anything else on this server
        _psql("postgres", f'drop database if exists "{name}" with (force)')


def _fill_media(root: Path) -> dict[str, bytes]:
    files = {
        "samples/7f/raw.webm": os.urandom(200_000),
        "outputs/2026/11/job with spaces é.mp3": os.urandom(50_000),
        "conditioning/v1.npz": b"\x00" * 1000,
        "empty.txt": b"",
    }
    for name, content in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(content)
    return files


def _tree(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()
    }


def _app_env(clean_env, data_dir: Path, **extra) -> dict:
    return {
        **clean_env,
        "DJANGO_SETTINGS_MODULE": "config.settings.local",
        "TIMBRE_DATA_DIR": str(data_dir),
        **ADMIN,
        **extra,
    }


def _migrated_with_rows(env) -> None:
    """The real schema, the seeded plans, an admin (user, email address, audit event) and a user."""
    _run([sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"], env)
    _run([sys.executable, "manage.py", "ensure_admin"], env)
    code = "from accounts.models import User; User.objects.create_user('user@example.com', 'pw-x9')"
    _run([sys.executable, "manage.py", "shell", "-c", code], env)


def _backup(env, out: Path, *args) -> Path:
    result = _run(["bash", BACKUP, "--out", out, *args], env)
    backup = Path(result.stdout.strip().splitlines()[-1])
    assert backup.parent == out and backup.name.startswith("timbre-backup-")
    assert backup.stat().st_mode & 0o777 == 0o700  # password and key hashes inside
    return backup


def _manifest(backup: Path) -> dict[str, str]:
    lines = (backup / "manifest.txt").read_text().splitlines()
    return dict(line.split("=", 1) for line in lines)


@needs_postgres
def test_postgresql_database_and_media_come_back_identical(pg_databases, clean_env, tmp_path):
    source, target = pg_databases
    _psql("postgres", f'create database "{source}"')
    url = f"postgres://postgres@127.0.0.1:5432/{source}"
    _migrated_with_rows(_app_env(clean_env, tmp_path / "data", DATABASE_URL=url))
    media = tmp_path / "media"
    files = _fill_media(media)

    env = {**clean_env, "DATABASE_URL": url, "MEDIA_ROOT": str(media)}
    backup = _backup(env, tmp_path / "backups")
    manifest = _manifest(backup)
    assert manifest["database"] == "postgresql"
    assert manifest["media_files"] == str(len(files))
    assert "postgres@127.0.0.1:5432" in manifest["source_database"]

    _psql("postgres", f'create database "{target}"')
    restored_media = tmp_path / "restored-media"
    target_env = {
        **clean_env,
        "DATABASE_URL": f"postgresql://postgres@127.0.0.1:5432/{target}",
        "MEDIA_ROOT": str(restored_media),
    }
    _run(["bash", RESTORE, backup], target_env)

    users = "select email, password, is_superuser from accounts_user order by email"
    assert _psql(target, users) == _psql(source, users)
    assert "admin@example.com|pbkdf2_sha256$" in _psql(target, users)
    assert _pg_data(target) == _pg_data(source)
    assert _tree(restored_media) == files

    # A target with rows of its own: a second restore is refused and changes nothing.
    _psql(target, "update accounts_user set email = 'changed@example.com' where is_superuser")
    refused = _run(["bash", RESTORE, backup], target_env, ok=False)
    assert refused.returncode != 0
    assert "not empty" in refused.stderr and "--force" in refused.stderr
    assert "changed@example.com" in _psql(target, users)

    # --force replaces the backup's tables with its contents.
    _run(["bash", RESTORE, "--force", backup], target_env)
    assert _pg_data(target) == _pg_data(source)


FAKE_DOCKER = """#!/usr/bin/env python3
# Stands in for `docker compose ... exec|run ... SERVICE CMD...`: runs CMD here, with the
# environment the service's container would have, and /media mapped to the test's folder.
import os, sys
args = sys.argv[1:]
with open(os.environ["FAKE_DOCKER_LOG"], "a") as log:
    log.write(" ".join(args[:args.index("sh")]) + "\\n")
verb = next(i for i, arg in enumerate(args) if arg in ("exec", "run"))
rest = args[verb + 1:]
while rest[0].startswith("-"):
    rest.pop(0)
service, command = rest[0], rest[1:]
env = dict(os.environ)
if service == "postgres":
    env.update(PGHOST="127.0.0.1", POSTGRES_USER="postgres", POSTGRES_DB=env["FAKE_DB"])
command = [env["FAKE_MEDIA"] if arg == "/media" else arg for arg in command]
os.execvpe(command[0], command, env)
"""


@needs_postgres
def test_compose_mode_runs_the_tools_inside_the_services(pg_databases, clean_env, tmp_path):
    source, target = pg_databases
    _psql("postgres", f'create database "{source}"')
    _psql(source, "create table clip (id serial primary key, audio bytea not null)")
    _psql(
        source,
        "insert into clip (audio) select sha256(i::text::bytea) from generate_series(1, 500) i",
    )
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "docker").write_text(FAKE_DOCKER.replace("python3", sys.executable, 1))
    (bin_dir / "docker").chmod(0o755)
    files = _fill_media(tmp_path / "volume")
    log = tmp_path / "docker.log"
    env = {
        **clean_env,
        "PATH": f"{bin_dir}:{clean_env['PATH']}",
        "FAKE_DOCKER_LOG": str(log),
        "FAKE_DB": source,
        "FAKE_MEDIA": str(tmp_path / "volume"),
        "AWS_STORAGE_BUCKET_NAME": "",  # not from a deploy/.env this checkout may have
    }
    backup = _backup(env, tmp_path / "backups", "--compose")
    _psql("postgres", f'create database "{target}"')
    restore_env = {**env, "FAKE_DB": target, "FAKE_MEDIA": str(tmp_path / "new-volume")}
    _run(["bash", RESTORE, "--compose", backup], restore_env)

    assert _pg_data(target) == _pg_data(source)
    assert _tree(tmp_path / "new-volume") == files
    calls = log.read_text()
    compose = f"compose -p timbre -f {REPO / 'deploy' / 'docker-compose.yml'}"
    assert f"{compose} exec -T postgres" in calls
    assert f"{compose} run --rm --no-deps -T web" in calls


def test_sqlite_database_and_media_come_back_identical(clean_env, tmp_path):
    source_dir, target_dir = tmp_path / "data", tmp_path / "restored"
    env = _app_env(clean_env, source_dir)
    _migrated_with_rows(env)
    files = _fill_media(source_dir / "media")  # the default MEDIA_ROOT

    backup = _backup({**clean_env, "TIMBRE_DATA_DIR": str(source_dir)}, tmp_path / "backups")
    assert _manifest(backup)["database"] == "sqlite"
    target_env = {**clean_env, "TIMBRE_DATA_DIR": str(target_dir)}
    _run(["bash", RESTORE, backup], target_env)

    def dump(data_dir: Path) -> list[str]:
        with sqlite3.connect(data_dir / "timbre.sqlite3") as db:
            return list(db.iterdump())

    assert dump(target_dir) == dump(source_dir)
    assert any("admin@example.com" in line for line in dump(target_dir))
    assert _tree(target_dir / "media") == files

    refused = _run(["bash", RESTORE, backup], target_env, ok=False)
    assert refused.returncode != 0 and "not empty" in refused.stderr


def _tiny_sqlite(data_dir: Path) -> None:
    data_dir.mkdir(parents=True)
    with sqlite3.connect(data_dir / "timbre.sqlite3") as db:
        db.execute("create table clip (id integer primary key, audio blob)")
        db.execute("insert into clip (audio) values (?)", (os.urandom(1000),))


def test_a_damaged_backup_is_refused_before_anything_is_written(clean_env, tmp_path):
    _tiny_sqlite(tmp_path / "data")
    _fill_media(tmp_path / "data" / "media")
    backup = _backup({**clean_env, "TIMBRE_DATA_DIR": str(tmp_path / "data")}, tmp_path / "out")
    archive = backup / "media.tar"
    archive.chmod(0o600)
    damaged = bytearray(archive.read_bytes())
    damaged[600] ^= 0xFF
    archive.write_bytes(bytes(damaged))

    target = tmp_path / "target"
    result = _run(
        ["bash", RESTORE, backup], {**clean_env, "TIMBRE_DATA_DIR": str(target)}, ok=False
    )
    assert result.returncode != 0 and "damaged" in result.stderr
    assert not target.exists()


def test_media_on_s3_is_left_to_the_store(clean_env, tmp_path):
    _tiny_sqlite(tmp_path / "data")
    env = {
        **clean_env,
        "TIMBRE_DATA_DIR": str(tmp_path / "data"),
        "AWS_STORAGE_BUCKET_NAME": "voices",
    }
    result = _run(["bash", BACKUP, "--out", tmp_path / "out"], env)
    backup = Path(result.stdout.strip())
    assert "aws s3 sync s3://voices" in result.stderr
    assert _manifest(backup)["media"] == "s3" and _manifest(backup)["media_bucket"] == "voices"
    assert sorted(p.name for p in backup.iterdir()) == [
        "SHA256SUMS",
        "database.sqlite3",
        "manifest.txt",
    ]

    restored = _run(["bash", RESTORE, backup], {**env, "TIMBRE_DATA_DIR": str(tmp_path / "new")})
    assert "S3 bucket voices" in restored.stderr
    assert (tmp_path / "new" / "timbre.sqlite3").is_file()


def test_env_file_is_read_without_running_it(clean_env, tmp_path):
    _tiny_sqlite(tmp_path / "data")
    marker = tmp_path / "ran"
    env_file = tmp_path / "timbre.env"
    env_file.write_text(
        "# comment\n"
        f"DATABASE_URL=sqlite:///{tmp_path}/data/timbre.sqlite3\n"
        f"MEDIA_ROOT={tmp_path}/media\n"
        'SYNTHESIS_DEFAULT_PARAMS={"temperature": 0.7}\n'
        f"DEFAULT_FROM_EMAIL=Timbre <noreply@example.com>; touch {marker}\n"
    )
    backup = _backup(clean_env, tmp_path / "out", "--env-file", env_file)
    assert _manifest(backup)["source_database"] == f"{tmp_path}/data/timbre.sqlite3"
    assert _manifest(backup)["source_media"] == f"{tmp_path}/media"
    assert not marker.exists()


def test_scripts_pass_shellcheck():
    if shutil.which("shellcheck") is None:
        pytest.skip("shellcheck is not installed")
    scripts = [BACKUP, RESTORE, REPO / "deploy" / "backup-common.sh"]
    result = _run(["shellcheck", "-x", *scripts], None, ok=False)
    assert result.returncode == 0, result.stdout
