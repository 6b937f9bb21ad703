from django.apps import AppConfig


class SynthesisConfig(AppConfig):
    name = "synthesis"

    def ready(self):
        from synthesis.workers import lifecycle as signals  # noqa: F401  (worker start-up hooks)
