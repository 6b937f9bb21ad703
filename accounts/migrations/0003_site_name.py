from urllib.parse import urlparse

from django.conf import settings
from django.db import migrations


def name_site(apps, schema_editor):
    # allauth puts the site's name and domain in every email; "example.com" would confuse people.
    Site = apps.get_model("sites", "Site")
    domain = urlparse(settings.SITE_URL).netloc or "localhost"
    Site.objects.update_or_create(id=settings.SITE_ID, defaults={"domain": domain, "name": "Timbre"})


class Migration(migrations.Migration):
    dependencies = [("accounts", "0002_default_plans"), ("sites", "0002_alter_domain_unique")]
    operations = [migrations.RunPython(name_site, migrations.RunPython.noop)]
