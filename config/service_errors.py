"""The one error type services raise: a code, a message for the person, and details.

Framework-free on purpose: services never raise DRF or Django form errors. Each surface maps a
ServiceError to its own answer once: the native API in `config.api` (status by code below), the
OpenAI and ElevenLabs surfaces in `synthesis.compat` (the shapes their SDKs parse), pages as a
form error.
"""

from __future__ import annotations


class ServiceError(Exception):
    """A refusal a user can act on. `code` is stable (clients branch on it); `message` says
    what happened and what to do; `details` carries machine-readable context."""

    def __init__(self, code: str, message: str, *, details: dict | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.details = details or {}


# HTTP status of each code on the native API; every other code is a 400.
HTTP_STATUS = {
    "not_found": 404,
    "voice_not_found": 404,
    "voice_not_ready": 409,
    "job_finished": 409,
    "idempotency_key_reused": 409,
    "quota_exceeded": 402,
    "key_quota_exceeded": 402,
    "storage_exceeded": 402,
    "concurrent_jobs_exceeded": 429,
}


def http_status(code: str) -> int:
    return HTTP_STATUS.get(code, 400)
