from django.apps import AppConfig


class SynthesisConfig(AppConfig):
    name = "synthesis"

    def ready(self):
        from accounts import usage
        from synthesis.jobs.selectors import stored_bytes
        from synthesis.workers import lifecycle  # noqa: F401  (worker start-up hooks)

        usage.storage_meter_register("synthesis.outputs", stored_bytes)

        from django.db.models.signals import post_migrate

        from synthesis.compat.aliases import aliases_reseed_if_empty

        post_migrate.connect(
            aliases_reseed_if_empty, sender=self, dispatch_uid="synthesis.aliases_reseed"
        )

        from synthesis.workers.status import cloning_summary
        from voices.selectors import cloning_status_register

        cloning_status_register(cloning_summary)  # the voices pages say when cloning is off

        from accounts.moderation import user_suspended
        from synthesis.jobs.moderation import on_user_suspended

        user_suspended.connect(on_user_suspended, dispatch_uid="synthesis.jobs.user_suspended")

        from accounts.services import user_deleting
        from synthesis.models import SynthesisBatch, SynthesisJob
        from voices.services.samples import storage_delete_on_commit

        def files_of_deleted_account(sender, user, **kwargs) -> None:
            """Account deletion: the rows go by cascade; the stored audio once it commits."""
            names = list(
                SynthesisJob.objects.filter(owner=user)
                .exclude(audio="")
                .values_list("audio", flat=True)
            )
            names += (
                SynthesisBatch.objects.filter(owner=user)
                .exclude(archive="")
                .values_list("archive", flat=True)
            )
            storage_delete_on_commit(names)

        user_deleting.connect(
            files_of_deleted_account, weak=False, dispatch_uid="synthesis.user_deleting"
        )
