from django.apps import AppConfig


class ProvenanceConfig(AppConfig):
    """Provenance: the watermark on every output, signed content credentials (C2PA), the
    generation registry (fingerprints that survive re-encoding) and "was this made here?"."""

    default_auto_field = "django.db.models.BigAutoField"
    name = "provenance"
