from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("synthesis", "0004_outbox"),
    ]

    operations = [
        migrations.AddField(
            model_name="enginestatusrecord",
            name="heartbeat_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
    ]
