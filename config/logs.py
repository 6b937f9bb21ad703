"""Logging for web and workers: one line per record, with the request id, secrets scrubbed.

`LOGGING` (config/settings) is built by `logging_config()`: one console handler carrying two
filters, `RequestIdFilter` (adds `request_id`) and `ScrubFilter` (removes secrets), and either
the plain formatter (readable, for `make run`) or `JsonFormatter` (one JSON object per line:
time, level, logger, message, request_id, exception, plus any `extra=` fields). Celery workers
use the same configuration (config/celery.py, `setup_logging` signal).

The request id comes from a context variable that `config.middleware.RequestIdMiddleware` sets
for the duration of a request, and that a Celery task sets from its message's
`timbre_request_id` header (stamped when a request queued the task); elsewhere it is "-".

Scrubbing works on what a record would print: its formatted message (args merged in), its
exception text, and its extra fields (recursively, dictionaries by key name). It removes API keys
(`<prefix>.<secret>`, `Bearer ...`, `xi-api-key`), passwords, session ids, CSRF tokens, cookies,
webhook secrets (`whsec_...`), signatures (`v1=<hex>`) and the keys in password-reset and
email-confirmation links. It works by shape and by name, so a secret logged under an innocent
name in free text can still pass: log identifiers, not secrets.
"""

from __future__ import annotations

import contextvars
import logging
import re
from typing import Any

from pythonjsonlogger.json import JsonEncoder
from pythonjsonlogger.json import JsonFormatter as _BaseJsonFormatter

NO_REQUEST = "-"
request_id_var: contextvars.ContextVar[str] = contextvars.ContextVar(
    "timbre_request_id", default=NO_REQUEST
)

SCRUBBED = "[scrubbed]"

# Names whose values are secret wherever they appear: form fields (password1, old_password,
# csrfmiddlewaretoken), headers (Authorization, Cookie, X-CSRFToken, xi-api-key,
# Timbre-Signature; also as WSGI keys, HTTP_AUTHORIZATION), JSON fields (secret, api_key), and
# one-time keys (`key`, `*_key`: allauth's confirmation and reset keys in template contexts).
_SECRET_WORD = re.compile(
    r"password|passwd|secret|api[_-]?key|token|signature|sessionid|session[_-]?key"
    r"|authorization|cookie|totp|recovery[_-]?code|^key$|[_-]key$",
    re.IGNORECASE,
)


def sensitive_name(name: str) -> bool:
    return bool(_SECRET_WORD.search(name))


# Possessive quantifiers (`++`, `*+`) and whole-word starts keep every pattern linear in the
# length of the text, whatever a log line holds.
_NAME = r"(?<![\w-])(?P<name>[\w-]++)"
_QUOTED = r"""(?:"(?:[^"\\]|\\.)*+"|'(?:[^'\\]|\\.)*+')"""


def _if_named(template: str):
    def replace(match: re.Match) -> str:
        return match.expand(template) if sensitive_name(match.group("name")) else match.group(0)

    return replace


_PATTERNS: list[tuple[re.Pattern[str], Any]] = [
    # Authorization schemes, whatever the header is called: `Bearer <key>`, `Api-Key <key>`.
    (re.compile(r"\b(Bearer|Api-Key)(\s++)[^\s,;'\"]++", re.IGNORECASE), rf"\1\2{SCRUBBED}"),
    # 'name': 'value' / "name": "value" / 'name': ['value'] (dict and JSON reprs, QueryDicts).
    (
        re.compile(
            rf"""(?P<head>(["'])(?P<name>[\w-]++)\2\s*+:\s*+)(?:{_QUOTED}|\[[^\]]*+\]|[^\s,}}]++)"""
        ),
        _if_named(rf"\g<head>'{SCRUBBED}'"),
    ),
    # name=value (forms, query strings, cookies, keyword reprs), quoted or not.
    (
        re.compile(rf"""{_NAME}=(?:{_QUOTED}|[^&\s;,'"]++)"""),
        _if_named(rf"\g<name>={SCRUBBED}"),
    ),
    # Header lines: `Name: value`, the value up to a space, comma or semicolon.
    (
        re.compile(
            rf"""{_NAME}(?P<sep>:[ \t]*+)"""
            rf"""(?!['"\[]|{re.escape(SCRUBBED)})[^\s,;]++"""
        ),
        _if_named(rf"\g<name>\g<sep>{SCRUBBED}"),
    ),
    # Shapes: an API key (djangorestframework-api-key: 8 + "." + 32 characters), a webhook
    # secret, a signature digest.
    (re.compile(r"\b[A-Za-z0-9]{8}\.[A-Za-z0-9]{32}\b"), "[api-key]"),
    (re.compile(r"\bwhsec_[A-Za-z0-9_-]++"), f"whsec_{SCRUBBED}"),
    (re.compile(r"\bv1=[0-9a-fA-F]{16,}+"), f"v1={SCRUBBED}"),
    # One-time keys in links (allauth): password reset and email confirmation.
    (re.compile(r"(/password/reset/key/)[^/\s'\"?]++"), rf"\1{SCRUBBED}"),
    (re.compile(r"(/confirm-email/)[^/\s'\"?]++"), rf"\1{SCRUBBED}"),
]


def scrub(text: str) -> str:
    """`text` with every secret the patterns recognise replaced by a placeholder."""
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return text


def scrub_value(value: Any, _depth: int = 0) -> Any:
    """Strings scrubbed; dictionaries by key name too; lists and tuples item by item."""
    if isinstance(value, str):
        return scrub(value)
    if _depth > 8:
        return value
    if isinstance(value, dict):
        return {
            key: SCRUBBED
            if isinstance(key, str) and sensitive_name(key)
            else scrub_value(item, _depth + 1)
            for key, item in value.items()
        }
    if isinstance(value, list | tuple):
        return type(value)(scrub_value(item, _depth + 1) for item in value)
    return value


# What a LogRecord holds by itself; anything else came in through `extra=`.
_RECORD_FIELDS = frozenset(logging.makeLogRecord({}).__dict__) | {"message", "asctime"}
_PLAIN_TYPES = (str, dict, list, tuple)


class ScrubFilter(logging.Filter):
    """Removes secrets from a record before any handler formats it (see the module text).

    The message is formatted here (args merged) and scrubbed as a whole, since a secret may sit
    in the format string or in any argument; the exception is turned into scrubbed text."""

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "_timbre_scrubbed", False):
            return True  # already done by another handler's copy of this filter
        try:
            message = record.getMessage()
        except Exception:  # a broken format: leave it to logging's own error report
            message = None
        if message is not None:
            record.msg, record.args = scrub(message), None
        if record.exc_info:
            if not record.exc_text:
                record.exc_text = logging.Formatter().formatException(record.exc_info)
            record.exc_info = None
        if record.exc_text:
            record.exc_text = scrub(record.exc_text)
        if record.stack_info:
            record.stack_info = scrub(record.stack_info)
        for key, value in list(record.__dict__.items()):
            if key in _RECORD_FIELDS or key.startswith("_"):
                continue
            if sensitive_name(key):
                setattr(record, key, SCRUBBED)
            elif isinstance(value, _PLAIN_TYPES):
                setattr(record, key, scrub_value(value))
        record._timbre_scrubbed = True
        return True


class RequestIdFilter(logging.Filter):
    """Adds `request_id`: the current request's (or task's) id, "-" outside of one."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not getattr(record, "request_id", None):
            # Django logs a response (django.request) after the middleware returned: the id is
            # then on the request it passes as `extra`.
            request = getattr(record, "request", None)
            record.request_id = getattr(request, "request_id", None) or request_id_var.get()
        return True


class _ScrubbingEncoder(JsonEncoder):
    """Objects without a JSON form (a request, a model instance) become scrubbed text."""

    def default(self, o: Any) -> Any:
        return scrub_value(super().default(o))


class JsonFormatter(_BaseJsonFormatter):
    """One JSON object per line: time (UTC, ISO 8601), level, logger, message, request_id,
    exception (when any), then the record's extra fields."""

    def __init__(self, *args, **kwargs) -> None:
        kwargs.setdefault("fmt", "%(levelname)s %(name)s %(message)s %(request_id)s")
        kwargs.setdefault("rename_fields", {"levelname": "level", "name": "logger"})
        kwargs.setdefault("timestamp", "time")
        kwargs.setdefault("json_encoder", _ScrubbingEncoder)
        super().__init__(*args, **kwargs)

    def process_log_record(self, log_data: dict[str, Any]) -> dict[str, Any]:
        if "exc_info" in log_data:
            log_data["exception"] = log_data.pop("exc_info")
        first = {key: log_data.pop(key) for key in ("time", "level", "logger") if key in log_data}
        return {**first, **log_data}


PLAIN_FORMAT = "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"
LOG_FORMATS = ("json", "plain")


def logging_config(*, fmt: str, level: str) -> dict:
    """The LOGGING setting: every record, Django's and Celery's included, goes through the one
    console handler and its filters. Django's own loggers log from INFO (DEBUG would add SQL
    with its parameters, session keys among them)."""
    level = level.upper()
    django_level = level if logging.getLevelName(level) >= logging.INFO else "INFO"
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {
            "request_id": {"()": "config.logs.RequestIdFilter"},
            "scrub": {"()": "config.logs.ScrubFilter"},
        },
        "formatters": {
            "plain": {"format": PLAIN_FORMAT},
            "json": {"()": "config.logs.JsonFormatter"},
        },
        "handlers": {
            "console": {
                "class": "logging.StreamHandler",
                "formatter": fmt,
                "filters": ["request_id", "scrub"],
            }
        },
        "root": {"handlers": ["console"], "level": level},
        "loggers": {
            # Replaces Django's defaults (their own console and mail_admins handlers, which
            # would bypass the filters): Django's records go to the root handler.
            "django": {"handlers": [], "level": django_level, "propagate": True},
            "django.server": {"handlers": [], "level": django_level, "propagate": True},
            # gunicorn's request lines (--access-logfile) and errors, in the web's workers
            # once Django has loaded: scrubbed (paths hold one-time keys) and formatted too.
            "gunicorn.access": {"handlers": [], "level": "INFO", "propagate": True},
            "gunicorn.error": {"handlers": [], "level": django_level, "propagate": True},
        },
    }
