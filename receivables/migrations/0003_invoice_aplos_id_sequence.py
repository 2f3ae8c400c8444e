from django.db import migrations

SEQUENCE = "receivables_invoice_aplos_id_seq"


def sequence_create(apps, schema_editor):
    """PostgreSQL: invoices take their Aplos id from one sequence, past every id given so far,
    instead of an organization counter row locked until the creating transaction commits."""
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(f"CREATE SEQUENCE IF NOT EXISTS {SEQUENCE}")
    schema_editor.execute(
        f"SELECT setval('{SEQUENCE}', GREATEST("
        "(SELECT COALESCE(MAX(aplos_id), 0) FROM receivables_invoice),"
        "(SELECT COALESCE(MAX(last_invoice_aplos_id), 0) FROM receivables_receivablescounter),"
        " 1), true)"
    )


def sequence_drop(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(f"DROP SEQUENCE IF EXISTS {SEQUENCE}")


class Migration(migrations.Migration):
    dependencies = [("receivables", "0002_offline_reversal_fund_name_ci_aplos_lookup")]

    operations = [migrations.RunPython(sequence_create, sequence_drop)]
