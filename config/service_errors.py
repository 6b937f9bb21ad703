"""The one error type services raise: a code, a message for the person, and details.

Framework-free on purpose: services never raise DRF or Django form errors. Each surface maps a
ServiceError to its own answer once: the native API in `config.api.exception_handler` (status by
code, below), the OpenAI and ElevenLabs surfaces in `synthesis.compat.common` (the shapes their
SDKs read), pages as a message on the form.
"""

from __future__ import annotations


class ServiceError(Exception):
    """A refusal a user can act on. `code` is stable (clients branch on it); `message` says what
    happened and what to do; `details` carries machine-readable context."""

    def __init__(self, code: str, message: str, *, details: dict | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.details = details or {}

    def __repr__(self) -> str:
        return f"ServiceError({self.code!r}, {self.message!r})"


# The HTTP status of each code that is not a plain 400 (the client's input; e.g.
# model_not_available: the voice is not built for the engine the request named).
HTTP_STATUS = {
    # 402: a plan limit that money (or the next month) lifts
    "quota_exceeded": 402,
    "key_quota_exceeded": 402,
    "storage_exceeded": 402,
    # 403, 404
    "stock_voice_readonly": 403,
    "account_suspended": 403,  # an admin suspended the account (accounts.moderation)
    "voice_blocked": 403,  # an admin blocked the voice (voices.services.moderation)
    "not_found": 404,
    "voice_not_found": 404,
    # 409: the state of something refuses it now
    "cloning_unavailable": 409,
    "consent_expired": 409,
    "consent_not_recorded": 409,
    "consent_used": 409,
    "engine_already_added": 409,
    "idempotency_key_reused": 409,
    "job_finished": 409,
    "job_not_finished": 409,
    "not_flagged": 409,
    "sample_in_use": 409,
    "sample_not_ready": 409,
    "voice_is_mix": 409,
    "voice_name_taken": 409,
    "voice_no_samples": 409,
    "voice_not_pending_consent": 409,
    "voice_not_ready": 409,
    "voice_slots_exhausted": 409,
    # 413, 422, 429
    "upload_too_large": 413,
    "consent_recording_rejected": 422,
    "sample_rejected": 422,
    "concurrent_jobs_exceeded": 429,
    "too_many_reports": 429,
}


def http_status(code: str) -> int:
    """The HTTP status for a service error code (400 unless the table says otherwise)."""
    return HTTP_STATUS.get(code, 400)
