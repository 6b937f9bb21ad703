"""The cache (Redis) goes down: rate limiting turns off with a warning; nothing answers 500."""

from __future__ import annotations

import logging

import pytest
from django.test import override_settings

from tests.faults.support import RedisServer
from tests.synthesis.compat.support import api_key, bearer_client

pytestmark = pytest.mark.django_db


@pytest.fixture
def redis_cache(tmp_path):
    server = RedisServer(tmp_path)
    caches = {
        "default": {
            "BACKEND": "config.cache.FailOpenRedisCache",
            "LOCATION": server.url,
            "OPTIONS": {"socket_connect_timeout": 1.0, "socket_timeout": 2.0},
        }
    }
    with override_settings(CACHES=caches, RATE_LIMIT_API="3/m", RATE_LIMIT_API_KEY="3/m"):
        yield server
    server.stop()


PATHS = ["/api/v1/usage", "/api/v1/synthesis", "/api/v1/voices", "/v1/models", "/v1/voices"]


def test_a_cache_outage_turns_rate_limits_off_and_never_500s(owner, redis_cache, caplog):
    client = bearer_client(
        api_key(owner, *("tts", "voices:read", "voices:write", "history:read", "usage:read"))
    )
    assert client.get("/api/v1/usage").status_code == 200  # counted while the cache is up

    redis_cache.stop()
    with caplog.at_level(logging.WARNING):
        answers = [client.get(path).status_code for path in PATHS for _ in range(2)]
    assert all(code < 500 for code in answers), answers
    assert 429 not in answers  # 10 requests over a limit of 3: limits are off, not failing shut
    assert any("rate limits are off" in r.getMessage().lower() for r in caplog.records)

    # Login pages read the cache too (allauth's own limits and ours).
    assert client.get("/accounts/login/").status_code == 200

    redis_cache.start()  # back: limits apply again
    codes = [client.get("/api/v1/usage").status_code for _ in range(5)]
    assert 429 in codes, codes
