"""Fixtures of the ASGI tests: one uvicorn process (TLS) for the session, trusted by the SDK."""

from __future__ import annotations

import pytest

from tests.synthesis.compat.support import (  # noqa: F401 (fixtures)
    built_voice,
    fixed_tokens,
)
from tests.synthesis.realtime.support import AsgiServer, self_signed_cert


@pytest.fixture(scope="session")
def tls_files(tmp_path_factory):
    return self_signed_cert(tmp_path_factory.mktemp("tls"))


@pytest.fixture(scope="session")
def asgi_server(django_db_setup, django_db_blocker, tmp_path_factory, tls_files):
    """uvicorn serving config.asgi on the test database, over TLS."""
    cert, key = tls_files
    with django_db_blocker.unblock():
        server = AsgiServer(log_dir=tmp_path_factory.mktemp("uvicorn"), cert=cert, key=key)
    try:
        server.wait_ready()
        yield server
    finally:
        server.stop()


@pytest.fixture
def trusted(asgi_server, monkeypatch):
    """The server's certificate trusted by clients made from now on (SSL_CERT_FILE)."""
    monkeypatch.setenv("SSL_CERT_FILE", str(asgi_server.cert))
    return asgi_server


@pytest.fixture
def toy_voice(owner):
    """A ready voice of the test-only toy engine (a tone per character, 16 kHz): fast."""
    from tests.voices.helpers import make_ready_voice

    return make_ready_voice(owner, "Toy", engine="toy", language="en")
