"""deploy/.env.example lists every variable the settings read, each documented, with defaults
that are the real defaults, and it starts the production settings."""

from __future__ import annotations

import ast
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SETTINGS_DIR = REPO / "config" / "settings"
EXAMPLE = REPO / "deploy" / ".env.example"

# How the settings read a variable: env.str("X"), _env.int("X"), env.db("X"), the plain
# os.environ ways, and functions that wrap one of them (_require("X", ...)).
ENV_RECEIVERS = {"env", "_env"}
ENV_METHODS = {"str", "int", "bool", "float", "list", "tuple", "dict", "json", "choice", "db"}
ENV_METHODS |= {"db_url", "url", "path", "cache", "cache_url", "email", "email_url", "bytes"}
ENV_FUNCTIONS = {"getenv"}
# The same, for a plain text search: a second opinion in case the AST walk misses a form.
ENV_CALL_TEXT = re.compile(
    r"(?:\b_?env\.(?:" + "|".join(sorted(ENV_METHODS)) + r")|\b_require|\bgetenv)"
    r"\(\s*[\"']([A-Z][A-Z0-9_]*)[\"']"
)

# Variables in the example that the settings do not read themselves, and who does.
READ_ELSEWHERE = {
    # docker-compose.yml (interpolation and the postgres/rabbitmq images)
    "POSTGRES_USER",
    "POSTGRES_PASSWORD",
    "POSTGRES_DB",
    "RABBITMQ_DEFAULT_USER",
    "RABBITMQ_DEFAULT_PASS",
    "TIMBRE_HTTP_PORT",
    "TIMBRE_HTTPS_PORT",
    "TIMBRE_VERSION",
    # manage.py / wsgi.py / celery.py
    "DJANGO_SETTINGS_MODULE",
    # boto3 (django-storages' S3 backend)
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    # accounts/management/commands/ensure_admin.py
    "DJANGO_SUPERUSER_EMAIL",
    "DJANGO_SUPERUSER_PASSWORD",
    # Procfile (make run) and gunicorn
    "TIMBRE_BIND",
    "WEB_CONCURRENCY",
}

# Documented defaults that are placeholders for the operator's own value, not the default.
PLACEHOLDERS = {"TIMBRE_DATA_DIR", "MEDIA_ROOT", "XTTS_DOWNLOAD_DIR", "PIPER_VOICES_DIR"}
PLACEHOLDERS |= {"CHATTERBOX_DOWNLOAD_DIR"}
PLACEHOLDERS |= {"DATABASE_URL", "REDIS_URL", "CELERY_BROKER_URL", "DJANGO_SUPERUSER_EMAIL"}
# Paths under the data directory, like MEDIA_ROOT.
PLACEHOLDERS |= {"PROVENANCE_C2PA_KEY", "PROVENANCE_C2PA_CERT", "PROVENANCE_C2PA_TRUST_ANCHORS"}


def _is_env_call(node: ast.Call, functions: set[str]) -> bool:
    func = node.func
    if isinstance(func, ast.Name):
        return func.id in functions
    if not isinstance(func, ast.Attribute):
        return False
    receiver = ast.unparse(func.value)
    if receiver in ENV_RECEIVERS:
        return func.attr in ENV_METHODS
    return (receiver, func.attr) in {("os.environ", "get"), ("os", "getenv")}


def _wrappers(tree: ast.AST) -> set[str]:
    """Functions that read the variable named by one of their parameters (like _require)."""
    names = set()
    for func in ast.walk(tree):
        if isinstance(func, ast.FunctionDef):
            params = {arg.arg for arg in func.args.args + func.args.kwonlyargs}
            for node in ast.walk(func):
                if (
                    isinstance(node, ast.Call)
                    and node.args
                    and _is_env_call(node, set())
                    and isinstance(node.args[0], ast.Name)
                    and node.args[0].id in params
                ):
                    names.add(func.name)
    return names


def settings_variables() -> dict[str, set[str]]:
    """Variable name -> the settings files that read it."""
    found: dict[str, set[str]] = {}
    for path in sorted(SETTINGS_DIR.glob("*.py")):
        source = path.read_text()
        tree = ast.parse(source)
        wrappers = _wrappers(tree)
        functions = ENV_FUNCTIONS | wrappers
        for node in ast.walk(tree):
            if not (isinstance(node, ast.Call) and node.args and _is_env_call(node, functions)):
                continue
            first = node.args[0]
            if isinstance(first, ast.Constant) and isinstance(first.value, str):
                found.setdefault(first.value, set()).add(path.name)
            elif not _inside_wrapper(tree, node, wrappers):
                pytest.fail(
                    f"{path.name}:{node.lineno} reads a variable whose name is not a literal "
                    f"({ast.unparse(node)}): name it, so this test can check .env.example"
                )
        for name in ENV_CALL_TEXT.findall(source):
            found.setdefault(name, set()).add(path.name)
    return found


def _inside_wrapper(tree: ast.AST, call: ast.Call, wrappers: set[str]) -> bool:
    return any(
        isinstance(func, ast.FunctionDef) and func.name in wrappers and call in ast.walk(func)
        for func in ast.walk(tree)
    )


def test_the_scan_sees_every_way_settings_read_a_variable():
    found = settings_variables()
    # One of each form: _require, env.str, env.db, multi-line env.choice, env.json, _env.int.
    for name in (
        "DJANGO_SECRET_KEY",
        "SITE_URL",
        "DATABASE_URL",
        "ACCOUNT_EMAIL_VERIFICATION",
        "SYNTHESIS_DEFAULT_PARAMS",
        "SECURE_HSTS_SECONDS",
    ):
        assert name in found, name
    assert "production.py" in found["ALLOWED_HOSTS"]  # through _require


def test_every_variable_the_settings_read_is_in_env_example(env_example):
    listed = {entry.name for entry in env_example}
    missing = {
        name: sorted(files) for name, files in settings_variables().items() if name not in listed
    }
    assert not missing, f"add these to deploy/.env.example (with a comment): {missing}"


def test_env_example_lists_no_unknown_variable(env_example):
    known = set(settings_variables()) | READ_ELSEWHERE
    unknown = sorted({entry.name for entry in env_example} - known)
    assert not unknown, f"nothing reads these (a typo, or a removed setting?): {unknown}"


def test_env_example_lines_are_variables_or_comments_and_each_is_explained(env_example):
    lines = EXAMPLE.read_text().splitlines()
    names = [entry.name for entry in env_example]
    assert len(names) == len(set(names)), "a variable is listed twice"
    by_line = {entry.line: entry for entry in env_example}
    for number, line in enumerate(lines, start=1):
        assert number in by_line or line == "" or line.startswith("# "), (
            f".env.example:{number}: neither a variable nor a '# ' comment: {line!r}"
        )
    for entry in env_example:
        # The nearest line above the variable's group is its description.
        above = entry.line - 1
        while above in by_line:
            above -= 1
        assert above >= 1 and lines[above - 1].startswith("# "), (
            f"{entry.name} (line {entry.line}) has no comment above it"
        )
        assert "$" not in entry.value and '"' not in entry.value, (
            f"{entry.name}: no $ or quotes (compose, systemd and the scripts read them apart)"
        )


def _load_settings(entries, names, clean_env, data_dir, **extra) -> subprocess.CompletedProcess:
    """Loads the settings with these entries set; prints the settings called `names` as JSON."""
    env = dict(clean_env)
    env.update({entry.name: entry.value for entry in entries})
    env.update(extra, TIMBRE_DATA_DIR=str(data_dir))
    names = sorted(names)
    code = (
        "import json, django; django.setup(); from django.conf import settings; "
        f"print(json.dumps({{n: getattr(settings, n) for n in {names!r} "
        "if hasattr(settings, n)}, default=str))"
    )
    return subprocess.run(
        [sys.executable, "-c", code],
        env=env,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_production_refuses_the_example_until_the_secret_key_is_set(
    env_example, clean_env, tmp_path
):
    in_force = [entry for entry in env_example if not entry.commented]
    assert {"DJANGO_SETTINGS_MODULE", "DJANGO_SECRET_KEY", "ALLOWED_HOSTS"} <= {
        entry.name for entry in in_force
    }
    result = _load_settings(in_force, set(), clean_env, tmp_path)
    assert result.returncode != 0
    assert "DJANGO_SECRET_KEY" in result.stderr

    result = _load_settings(
        in_force,
        {"ALLOWED_HOSTS", "NUM_PROXIES"},
        clean_env,
        tmp_path,
        DJANGO_SECRET_KEY="x" * 50,
        DATABASE_URL="postgres://timbre:pw@postgres:5432/timbre",
    )
    assert result.returncode == 0, result.stderr
    loaded = json.loads(result.stdout)
    assert loaded["ALLOWED_HOSTS"] == ["timbre.example.com"]
    assert loaded["NUM_PROXIES"] == 1


def test_documented_defaults_are_the_real_defaults(env_example, clean_env, tmp_path):
    required = {"DJANGO_SECRET_KEY": "x" * 50, "DATABASE_URL": "postgres://t:pw@db:5432/t"}
    in_force = [entry for entry in env_example if not entry.commented]
    names = {entry.name for entry in env_example}
    defaults = _load_settings(in_force, names, clean_env, tmp_path, **required)
    documented = _load_settings(env_example, names, clean_env, tmp_path, **required)
    assert defaults.returncode == 0, defaults.stderr
    assert documented.returncode == 0, documented.stderr  # every documented value parses
    real, written = json.loads(defaults.stdout), json.loads(documented.stdout)
    wrong = {
        entry.name: {"documented": written[entry.name], "real": real[entry.name]}
        for entry in env_example
        if entry.commented
        and entry.name not in PLACEHOLDERS
        and entry.name in real
        and written[entry.name] != real[entry.name]
    }
    assert not wrong, f"fix these defaults in deploy/.env.example: {wrong}"
