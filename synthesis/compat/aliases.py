"""Model aliases for the compatible APIs: the ModelAlias table (edited in the admin) keeps its
seeded defaults after a flush. Which names each surface accepts, and the engine each selects, is
synthesis.jobs.catalog (one resolver for every surface).
"""

from __future__ import annotations

from importlib import import_module


def aliases_reseed_if_empty(sender, apps=None, **kwargs) -> None:
    """post_migrate: an empty alias table gets migration 0007's defaults again.

    A flush (the test suite's transactional tests end with one) empties every table and then
    sends post_migrate, as it does for content types. A table the operator edited always has
    rows (disable an alias rather than delete them all), so their choices stay.
    """
    apps = apps or sender.apps
    try:
        model = apps.get_model("synthesis", "ModelAlias")
    except LookupError:  # migrated back to before the table existed
        return
    if not model.objects.exists():
        import_module("synthesis.migrations.0007_model_aliases").aliases_seed(apps)
        import_module("synthesis.migrations.0010_model_alias_default_model").describe(apps, None)
