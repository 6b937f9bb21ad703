from django.apps import AppConfig


class VoicesConfig(AppConfig):
    name = "voices"

    def ready(self):
        from django.db.models import Sum

        from accounts import usage
        from voices.models import Sample
        from voices.selectors import voice_slots_used

        def samples_bytes(*, user) -> int:
            found = Sample.objects.filter(owner=user).exclude(raw="").aggregate(n=Sum("size"))
            return found["n"] or 0

        usage.storage_meter_register("voices.samples", samples_bytes)
        usage.voice_slot_meter_register("voices.voices", voice_slots_used)
