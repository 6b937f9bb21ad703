"""Settings fail loudly and name the variable an operator must fix."""

import os
import subprocess
import sys

import pytest
from django.conf import settings

GOOD = {
    "DJANGO_SECRET_KEY": "x" * 50,
    "ALLOWED_HOSTS": "timbre.example.com",
    "DATABASE_URL": "postgres://timbre@127.0.0.1:5432/timbre",
}


def _load(module: str, **overrides) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in GOOD}
    env.update(overrides, DJANGO_SETTINGS_MODULE=module)
    code = "import django; django.setup(); from django.conf import settings; print(settings.DEBUG)"
    return subprocess.run(
        [sys.executable, "-c", code],
        env=env,
        capture_output=True,
        text=True,
        cwd=settings.BASE_DIR,
        timeout=60,
        check=False,
    )


def test_production_starts_with_every_secret():
    result = _load("config.settings.production", **GOOD)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False"


@pytest.mark.parametrize("missing", sorted(GOOD))
def test_production_refuses_each_missing_secret(missing):
    env = {k: v for k, v in GOOD.items() if k != missing}
    result = _load("config.settings.production", **env)
    assert result.returncode != 0
    assert f"Production settings need {missing}" in result.stderr


def test_bad_boolean_names_the_variable():
    result = _load("config.settings.local", DJANGO_DEBUG="ture")
    assert result.returncode != 0
    assert "DJANGO_DEBUG='ture' is not a boolean" in result.stderr


def test_bad_integer_names_the_variable():
    result = _load("config.settings.local", CELERY_TASK_TIME_LIMIT="ten")
    assert result.returncode != 0
    assert "CELERY_TASK_TIME_LIMIT='ten' is invalid" in result.stderr


def test_bad_choice_names_the_variable():
    result = _load("config.settings.local", ACCOUNT_EMAIL_VERIFICATION="sometimes")
    assert result.returncode != 0
    assert "ACCOUNT_EMAIL_VERIFICATION='sometimes' must be one of" in result.stderr


def test_defaults_are_single_machine(tmp_path):
    env = {"TIMBRE_DATA_DIR": str(tmp_path)}
    code = (
        "import django; django.setup(); from django.conf import settings as s; "
        "print(s.DATABASES['default']['ENGINE'], s.CELERY_BROKER_URL, "
        "s.CACHES['default']['BACKEND'].rsplit('.', 1)[1])"
    )
    clean = {
        k: v
        for k, v in os.environ.items()
        if k not in ("DATABASE_URL", "REDIS_URL", "CELERY_BROKER_URL")
    }
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env={**clean, **env, "DJANGO_SETTINGS_MODULE": "config.settings.local"},
        cwd=settings.BASE_DIR,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == [
        "django.db.backends.sqlite3",
        "filesystem://",
        "FileBasedCache",
    ]
    assert (tmp_path / "secret_key").exists()  # generated once, kept in the data directory


def test_make_run_settings_serve_with_debug_off_unless_asked_and_then_say_so_loudly():
    plain = _load("config.settings.local")
    assert plain.returncode == 0, plain.stderr
    assert plain.stdout.strip() == "False"
    assert "DEVELOPMENT server" not in plain.stderr
    asked = _load("config.settings.local", DJANGO_DEBUG="1")
    assert asked.stdout.strip() == "True"
    assert "DJANGO_DEBUG is on: this is a DEVELOPMENT server" in asked.stderr
