"""Accounting changes by payment are indexed by change_payment_status (payment, status):
the single-column index only cost every insert. Only the index goes (``index_dropped``)."""

import django.db.models.deletion
from django.db import migrations, models

from arpilot.db import index_dropped


class Migration(migrations.Migration):
    dependencies = [
        ("payments", "0013_drop_prefix_indexes"),
        ("reconciliation", "0006_money_three_places"),
    ]

    operations = [
        index_dropped(
            "accountingchange",
            "payment",
            models.ForeignKey(
                blank=True,
                db_index=False,
                null=True,
                on_delete=django.db.models.deletion.SET_NULL,
                related_name="accounting_changes",
                to="payments.payment",
            ),
            table="reconciliation_accountingchange",
            index="reconciliation_accountingchange_payment_id_15a8c4be",
            column="payment_id",
        ),
    ]
