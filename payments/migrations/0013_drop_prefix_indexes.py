"""Allocations by invoice are indexed by allocation_invoice (invoice, unapplied_at): the
single-column index only cost every insert. Only the index goes (``index_dropped``)."""

import django.db.models.deletion
from django.db import migrations, models

from arpilot.db import index_dropped


class Migration(migrations.Migration):
    dependencies = [
        ("payments", "0012_trigram_operator_cost"),
        ("receivables", "0011_drop_prefix_indexes"),
    ]

    operations = [
        index_dropped(
            "paymentallocation",
            "invoice",
            models.ForeignKey(
                db_index=False,
                on_delete=django.db.models.deletion.RESTRICT,
                related_name="payment_allocations",
                to="receivables.invoice",
            ),
            table="payments_paymentallocation",
            index="payments_paymentallocation_invoice_id_c7c856f3",
            column="invoice_id",
        ),
    ]
