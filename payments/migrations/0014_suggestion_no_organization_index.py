"""Suggestions are only read through their payment ((payment, rank) is indexed): their
organization's index only cost every COPY of a matching run. Only the index goes
(``index_dropped``)."""

import django.db.models.deletion
from django.db import migrations, models

from arpilot.db import index_dropped


class Migration(migrations.Migration):
    dependencies = [("payments", "0013_drop_prefix_indexes")]

    operations = [
        index_dropped(
            "matchsuggestion",
            "organization",
            models.ForeignKey(
                db_constraint=False,
                db_index=False,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="+",
                to="arpilot.organization",
            ),
            table="payments_matchsuggestion",
            index="payments_matchsuggestion_organization_id_828e36af",
            column="organization_id",
        ),
    ]
