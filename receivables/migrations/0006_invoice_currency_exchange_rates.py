import uuid

import django.db.models.deletion
from django.db import migrations, models
from django.db.models import OuterRef, Subquery


def fill_invoice_currency(apps, schema_editor):
    """Existing invoices are in their organization's base currency."""
    Invoice = apps.get_model("receivables", "Invoice")
    Organization = apps.get_model("arpilot", "Organization")
    base = Organization.objects.filter(pk=OuterRef("organization_id")).values("currency")[:1]
    Invoice.objects.exclude(currency=Subquery(base)).update(currency=Subquery(base))


class Migration(migrations.Migration):
    dependencies = [
        ("arpilot", "0003_maker_checker"),
        ("receivables", "0005_invoice_open_by_customer"),
    ]

    operations = [
        migrations.AddField(
            model_name="invoice",
            name="currency",
            field=models.CharField(default="USD", max_length=3),
            preserve_default=False,
        ),
        migrations.RunPython(fill_invoice_currency, migrations.RunPython.noop, elidable=True),
        migrations.CreateModel(
            name="ExchangeRate",
            fields=[
                (
                    "id",
                    models.UUIDField(
                        default=uuid.uuid4, editable=False, primary_key=True, serialize=False
                    ),
                ),
                ("created_at", models.DateTimeField(auto_now_add=True)),
                ("updated_at", models.DateTimeField(auto_now=True)),
                ("currency", models.CharField(max_length=3)),
                ("date", models.DateField()),
                ("rate", models.DecimalField(decimal_places=10, max_digits=20)),
                (
                    "organization",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="+",
                        to="arpilot.organization",
                    ),
                ),
            ],
            options={
                "ordering": ["currency", "-date"],
                "constraints": [
                    models.UniqueConstraint(
                        fields=("organization", "currency", "date"), name="exchange_rate_unique"
                    ),
                    models.CheckConstraint(
                        condition=models.Q(("rate__gt", 0)), name="exchange_rate_positive"
                    ),
                ],
            },
        ),
    ]
