"""Every state change of the voices app; each records its audit event in the same transaction.

Split by sub-domain: samples (upload and intake), consents (attestation, recording, speaker
verification, admin override), building (voices from samples), mixing (blends of voices).
"""

from voices.services.building import (
    voice_consent_attach,
    voice_create,
    voice_create_pending_consent,
    voice_delete,
    voice_rename,
)
from voices.services.consents import (
    consent_issue,
    consent_recording_add,
    consent_verification_record,
    consent_verify_run,
)
from voices.services.dispatch import voice_build_dispatch
from voices.services.engines import voice_engine_add
from voices.services.mixing import mix_spec_parse, voice_mix
from voices.services.moderation import (
    consent_override_approve,
    flag_approve,
    flag_reject,
    voice_block,
    voice_report,
    voice_unblock,
)
from voices.services.recovery import voice_build_retry, voice_retry_refusal
from voices.services.samples import (
    sample_create,
    sample_delete,
    sample_intake_run,
    sample_reject,
)

__all__ = [
    "consent_issue",
    "consent_override_approve",
    "consent_recording_add",
    "consent_verification_record",
    "consent_verify_run",
    "flag_approve",
    "flag_reject",
    "mix_spec_parse",
    "sample_create",
    "sample_delete",
    "sample_intake_run",
    "sample_reject",
    "voice_block",
    "voice_build_dispatch",
    "voice_build_retry",
    "voice_consent_attach",
    "voice_create",
    "voice_create_pending_consent",
    "voice_delete",
    "voice_engine_add",
    "voice_mix",
    "voice_rename",
    "voice_report",
    "voice_retry_refusal",
    "voice_unblock",
]
