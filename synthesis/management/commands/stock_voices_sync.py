"""Create or refresh the stock voices (Piper) as voices every user can use."""

from django.core.management.base import BaseCommand, CommandError


class Command(BaseCommand):
    help = "Sync stock voices (bundled Piper voice + PIPER_VOICES_DIR) into the database."

    def handle(self, *args, **options):
        from synthesis.engines import runtime
        from synthesis.engines.base import EngineUnavailable
        from voices.services.stock import stock_voices_sync

        try:
            engine = runtime.engine_get("piper")
        except EngineUnavailable as exc:
            raise CommandError(f"{exc.reason} Fix: {exc.fix}") from exc
        voices = stock_voices_sync(engine)
        names = ", ".join(f"{v.name} ({v.language})" for v in voices)
        self.stdout.write(self.style.SUCCESS(f"{len(voices)} stock voice(s): {names}"))
