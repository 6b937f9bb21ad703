"""Aliases without an engine now speak with the default model: the help text and the seeded
descriptions say so (an operator's own description is kept)."""

from django.db import migrations, models

OLD = "Alias: the voice's own engine speaks"
NEW = "Alias: the default model speaks"


def describe(apps, schema_editor):
    apps.get_model("synthesis", "ModelAlias").objects.filter(description=OLD).update(
        description=NEW
    )


def undescribe(apps, schema_editor):
    apps.get_model("synthesis", "ModelAlias").objects.filter(description=NEW).update(
        description=OLD
    )


class Migration(migrations.Migration):
    dependencies = [("synthesis", "0009_job_engine")]

    operations = [
        migrations.AlterField(
            model_name="modelalias",
            name="engine",
            field=models.CharField(
                blank=True,
                help_text="Leave empty to speak with the default model (or the voice's own engine "
                "when the voice is not built for it). An engine name here always picks that engine.",
                max_length=32,
            ),
        ),
        migrations.RunPython(describe, undescribe),
    ]
