from django.db import migrations

PLANS = [
    {"slug": "free", "name": "Free", "monthly_characters": 100_000, "voice_slots": 3,
     "concurrent_jobs": 2, "max_upload_mb": 20, "retention_days": 30, "storage_mb": 1024,
     "is_default": True},
    {"slug": "pro", "name": "Pro", "monthly_characters": 2_000_000, "voice_slots": 30,
     "concurrent_jobs": 5, "max_upload_mb": 50, "retention_days": 90, "storage_mb": 20_480,
     "is_default": False},
]


def create_plans(apps, schema_editor):
    Plan = apps.get_model("accounts", "Plan")
    for plan in PLANS:
        Plan.objects.update_or_create(slug=plan["slug"], defaults=plan)


class Migration(migrations.Migration):
    dependencies = [("accounts", "0001_initial")]
    operations = [migrations.RunPython(create_plans, migrations.RunPython.noop)]
