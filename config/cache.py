"""A Redis cache that fails open: when Redis is down, reads miss and writes are dropped, with a
warning, instead of an exception that would turn every request into a 500.

The cache holds nothing that must not be lost: rate-limit counters (limits are off during an
outage, django-ratelimit's RATELIMIT_FAIL_OPEN) and allauth's own counters. Sessions live in
the database.
"""

from __future__ import annotations

import functools
import logging
import time

from django.core.cache.backends.redis import RedisCache

logger = logging.getLogger(__name__)

_OUTAGE_WARNING_EVERY = 60.0
_last_warning = 0.0


def _outage(exc: Exception) -> None:
    global _last_warning
    now = time.monotonic()
    if now - _last_warning > _OUTAGE_WARNING_EVERY:
        _last_warning = now
        logger.warning("Cache (Redis) unavailable; rate limits are off until it is back: %s", exc)


def _fail_open(default):
    def wrap(method):
        @functools.wraps(method)
        def call(self, *args, **kwargs):
            from redis.exceptions import ConnectionError, TimeoutError

            try:
                return method(self, *args, **kwargs)
            except (ConnectionError, TimeoutError, OSError) as exc:
                _outage(exc)
                if isinstance(default, type) and issubclass(default, Exception):
                    raise default("cache unavailable") from exc
                return default(args, kwargs) if callable(default) else default

        return call

    return wrap


def _get_default(args, kwargs):
    return kwargs.get("default", args[1] if len(args) > 1 else None)


class FailOpenRedisCache(RedisCache):
    get = _fail_open(_get_default)(RedisCache.get)
    set = _fail_open(None)(RedisCache.set)
    add = _fail_open(False)(RedisCache.add)
    touch = _fail_open(False)(RedisCache.touch)
    delete = _fail_open(False)(RedisCache.delete)
    has_key = _fail_open(False)(RedisCache.has_key)
    # django-ratelimit reads ValueError from incr as "start a new count": not limited.
    incr = _fail_open(ValueError)(RedisCache.incr)
    get_many = _fail_open({})(RedisCache.get_many)
    set_many = _fail_open([])(RedisCache.set_many)
    delete_many = _fail_open(None)(RedisCache.delete_many)
    clear = _fail_open(False)(RedisCache.clear)
