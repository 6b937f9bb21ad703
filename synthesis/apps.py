from django.apps import AppConfig


class SynthesisConfig(AppConfig):
    name = "synthesis"

    def ready(self):
        from accounts import usage
        from synthesis.jobs.selectors import stored_bytes
        from synthesis.workers import lifecycle  # noqa: F401  (worker start-up hooks)

        usage.storage_meter_register("synthesis.outputs", stored_bytes)
