from django.apps import AppConfig


class SynthesisConfig(AppConfig):
    name = "synthesis"

    def ready(self):
        from synthesis import signals  # noqa: F401  (worker start-up hooks)
