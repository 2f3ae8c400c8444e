"""Journal entries by invoice and journal lines by account are indexed by the composite
indexes that start with those columns (journal_entry_invoice_kind, journal_line_account_fund):
their single-column indexes only cost every insert. Only the indexes go (``index_dropped``).
"""

import django.db.models.deletion
from django.db import migrations, models

from arpilot.db import index_dropped


class Migration(migrations.Migration):
    dependencies = [("receivables", "0010_invoice_open_customer_indexes")]

    operations = [
        index_dropped(
            "journalentry",
            "invoice",
            models.ForeignKey(
                blank=True,
                db_index=False,
                null=True,
                on_delete=django.db.models.deletion.SET_NULL,
                related_name="journal_entries",
                to="receivables.invoice",
            ),
            table="receivables_journalentry",
            index="receivables_journalentry_invoice_id_e2ce8772",
            column="invoice_id",
        ),
        index_dropped(
            "journalline",
            "account",
            models.ForeignKey(
                db_index=False,
                on_delete=django.db.models.deletion.RESTRICT,
                related_name="+",
                to="receivables.account",
            ),
            table="receivables_journalline",
            index="receivables_journalline_account_id_f7b8dead",
            column="account_id",
        ),
    ]
