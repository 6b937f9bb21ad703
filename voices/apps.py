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

        from accounts.services import user_deleting
        from voices.models import Voice
        from voices.services.samples import sample_files, storage_delete_on_commit

        def files_of_deleted_account(sender, user, **kwargs) -> None:
            """Account deletion: the rows go by cascade; the stored files once it commits."""
            names = [n for s in Sample.objects.filter(owner=user) for n in sample_files(s)]
            names += (
                Voice.objects.filter(owner=user)
                .exclude(conditioning="")
                .values_list("conditioning", flat=True)
            )
            storage_delete_on_commit(names)

        user_deleting.connect(
            files_of_deleted_account, weak=False, dispatch_uid="voices.user_deleting"
        )
