from django.conf import settings
from django.core.management import call_command
from django.db import migrations


def create_cache_tables(apps, schema_editor):
    """The database cache's table, where a database cache is configured (embedded default)."""
    if any(
        cache["BACKEND"].endswith("DatabaseCache") for cache in settings.CACHES.values()
    ):
        call_command("createcachetable", database=schema_editor.connection.alias, verbosity=0)


class Migration(migrations.Migration):
    dependencies = [("arpilot", "0001_initial")]

    operations = [migrations.RunPython(create_cache_tables, migrations.RunPython.noop)]
