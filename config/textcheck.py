"""Refusing NUL bytes and control characters in request text (400, never a database error).

PostgreSQL cannot store a NUL byte in a text column (a DataError, i.e. a 500), and no field of
Timbre means to hold C0 control characters: names, descriptions, formulas and texts to speak
allow tab, newline and carriage return only. `ControlCharactersMiddleware` checks query strings
and JSON or form bodies of API requests; `StrictMultiPartParser` checks the fields (not the
files) of multipart uploads.
"""

from __future__ import annotations

import json
import re

from django.conf import settings
from rest_framework.exceptions import ParseError
from rest_framework.parsers import MultiPartParser

_FORBIDDEN = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_API_PREFIXES = ("/api/", "/v1/", "/v2/")  # config.errors.API_PREFIXES


def control_character_at(value, where: str = "") -> str | None:
    """Where in `value` (a str, or lists and dicts of them) a forbidden character is; None."""
    if isinstance(value, str):
        return (where or "value") if _FORBIDDEN.search(value) else None
    if isinstance(value, dict):
        for key, item in value.items():
            found = control_character_at(str(key), f"{where}.{key}".lstrip(".")) or (
                control_character_at(item, f"{where}.{key}".lstrip("."))
            )
            if found:
                return found
    if isinstance(value, list | tuple):
        for index, item in enumerate(value):
            found = control_character_at(item, f"{where}[{index}]")
            if found:
                return found
    return None


def message_for(where: str) -> str:
    return (
        f"{where} contains a NUL byte or a control character; only tab, newline and carriage "
        "return are allowed in text."
    )


class ControlCharactersMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.path.startswith(_API_PREFIXES):
            where = self._find(request)
            if where:
                from config.errors import api_error  # the shape of the API at this path

                return api_error(
                    request, 400, "invalid_characters", message_for(where), {"field": where}
                )
        return self.get_response(request)

    def _find(self, request) -> str | None:
        for key, values in request.GET.lists():
            found = control_character_at(key, key) or control_character_at(values, key)
            if found:
                return found.split("[")[0]
        content_type = request.content_type or ""
        length = int(request.headers.get("Content-Length") or 0)
        if request.method not in ("POST", "PUT", "PATCH") or not length:
            return None
        if length > settings.DATA_UPLOAD_MAX_MEMORY_SIZE:
            return None  # the view answers 413 without reading it
        if content_type == "application/json" or content_type.endswith("+json"):
            try:
                data = json.loads(request.body)
            except (ValueError, UnicodeDecodeError):
                return None  # the view answers 400 for malformed JSON
            return control_character_at(data)
        if content_type == "application/x-www-form-urlencoded":
            return control_character_at(dict(request.POST.lists()))
        return None


class StrictMultiPartParser(MultiPartParser):
    """Multipart bodies whose text fields must be clean (file contents are not text)."""

    def parse(self, stream, media_type=None, parser_context=None):
        parsed = super().parse(stream, media_type, parser_context)
        where = control_character_at(dict(parsed.data.lists()))
        if where:
            raise ParseError(message_for(where))
        return parsed
