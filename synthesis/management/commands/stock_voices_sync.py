"""Create or refresh the stock voices of every installed engine that ships some (Piper)."""

from django.core.management.base import BaseCommand, CommandError


class Command(BaseCommand):
    help = "Sync stock voices (e.g. bundled Piper voice + PIPER_VOICES_DIR) into the database."

    def handle(self, *args, **options):
        from synthesis.engines import EngineUnavailable, engines, runtime
        from voices.services.stock import stock_voices_sync

        synced = []
        for name, facts in engines().items():
            if not facts.stock_voices:
                continue
            try:
                synced += stock_voices_sync(runtime.engine_get(name))
            except EngineUnavailable as exc:
                raise CommandError(f"{facts.label}: {exc.reason} Fix: {exc.fix}") from exc
        names = ", ".join(f"{v.name} ({v.language})" for v in synced)
        self.stdout.write(self.style.SUCCESS(f"{len(synced)} stock voice(s): {names}"))
