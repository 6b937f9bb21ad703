"""Model aliases (synthesis.ModelAlias), seeded with the names OpenAI and ElevenLabs clients send
today. Every one speaks with the voice's own engine; the operator edits them in the admin."""

from django.db import migrations, models

OPENAI = ["tts-1", "tts-1-hd", "gpt-4o-mini-tts", "gpt-4o-mini-tts-2025-12-15"]
ELEVENLABS = [
    "eleven_v3",
    "eleven_multilingual_v2",
    "eleven_multilingual_v1",
    "eleven_flash_v2_5",
    "eleven_flash_v2",
    "eleven_turbo_v2_5",
    "eleven_turbo_v2",
    "eleven_monolingual_v1",
]
DESCRIPTION = "Alias: the voice's own engine speaks"


def aliases_seed(apps, schema_editor=None):
    """Create the default aliases that are missing (synthesis.apps calls this again after a
    flush empties the table)."""
    ModelAlias = apps.get_model("synthesis", "ModelAlias")
    for surface, names in (("openai", OPENAI), ("elevenlabs", ELEVENLABS)):
        for name in names:
            ModelAlias.objects.get_or_create(
                name=name, defaults={"surface": surface, "description": DESCRIPTION}
            )


class Migration(migrations.Migration):
    dependencies = [
        ("synthesis", "0006_synthesisjob_bitrate"),
    ]

    operations = [
        migrations.CreateModel(
            name="ModelAlias",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("name", models.CharField(max_length=100, unique=True)),
                (
                    "surface",
                    models.CharField(
                        choices=[
                            ("openai", "OpenAI (model)"),
                            ("elevenlabs", "ElevenLabs (model_id)"),
                            ("any", "Both"),
                        ],
                        default="any",
                        max_length=16,
                    ),
                ),
                (
                    "engine",
                    models.CharField(
                        blank=True,
                        help_text="Leave empty to speak with the voice's own engine (the usual "
                        "choice). An engine name here accepts this alias only for that engine's "
                        "voices.",
                        max_length=32,
                    ),
                ),
                ("description", models.CharField(blank=True, max_length=200)),
                (
                    "enabled",
                    models.BooleanField(
                        default=True, help_text="Disabled aliases are refused and not listed."
                    ),
                ),
                ("created_at", models.DateTimeField(auto_now_add=True)),
                ("updated_at", models.DateTimeField(auto_now=True)),
            ],
            options={
                "verbose_name_plural": "model aliases",
                "ordering": ["surface", "name"],
            },
        ),
        migrations.RunPython(aliases_seed, migrations.RunPython.noop),
    ]
