"""schemathesis against the live API (gunicorn, the test database), authenticated with the API
key the schema declares: no 5xx and no response that violates the schema.

Bounded: a fixed seed and a fixed number of examples per operation, so a run takes well under
two minutes; `SCHEMATHESIS_EXAMPLES` raises the count for a deeper local run.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from django.conf import settings

from accounts import services as account_services
from accounts.models import UserAPIKey
from synthesis.workers.process import web_command
from tests.faults.support import free_port
from tests.voices.helpers import make_ready_voice
from tests.workers import database_url

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

BIN = Path(sys.executable).parent


@pytest.fixture
def live_api(tmp_path):
    port = free_port()
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.test",
        "DATABASE_URL": database_url(),
        "RATELIMIT_ENABLE": "false",  # fuzzing is many requests; limits are tested elsewhere
        "SYNTHESIS_STREAM_FIRST_TIMEOUT": "3",
    }
    log = (tmp_path / "gunicorn.log").open("wb")
    server = subprocess.Popen(
        web_command(bind=f"127.0.0.1:{port}"),
        cwd=settings.BASE_DIR,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            urllib.request.urlopen(f"{url}/api/schema/", timeout=5).read()  # noqa: S310
            break
        except OSError:
            if time.monotonic() > deadline or server.poll() is not None:
                server.kill()
                raise RuntimeError((tmp_path / "gunicorn.log").read_text()) from None
            time.sleep(0.3)
    yield url
    server.terminate()
    server.wait(30)
    log.close()


def test_fuzzing_the_api_finds_no_server_error_and_no_schema_violation(owner, live_api, tmp_path):
    make_ready_voice(owner, "Fuzzed", language="en")  # something real to list and look up
    _, key = account_services.api_key_create(
        user=owner, name="schemathesis", scopes=list(UserAPIKey.SCOPES)
    )
    examples = os.environ.get("SCHEMATHESIS_EXAMPLES", "12")
    result = subprocess.run(
        [
            str(BIN / "schemathesis"),
            "run",
            f"{live_api}/api/schema/",
            "--header",
            f"Authorization: Bearer {key}",
            "--checks",
            "not_a_server_error,response_schema_conformance",
            "--phases",
            "examples,coverage,fuzzing",
            "--max-examples",
            examples,
            "--seed",
            "20261129",
            "--request-timeout",
            "30",
            "--no-color",
            # Its answer comes from an audio worker (none runs here: every check would be a
            # 503 after the wait); tests/provenance drive it with a real worker.
            "--exclude-path",
            "/api/v1/provenance/detect",
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-8000:]
    assert " passed" in output and "Tested: " in output, output[-3000:]
