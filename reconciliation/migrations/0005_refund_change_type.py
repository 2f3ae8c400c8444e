from django.db import migrations, models

CHANGE_TYPES = [
    ("invoice_created", "Invoice created"),
    ("invoice_changed", "Invoice changed"),
    ("invoice_voided", "Invoice voided"),
    ("offline_payment", "Offline payment"),
    ("payment_applied", "Payment applied"),
    ("payment_unapplied", "Payment unapplied"),
    ("write_off", "Write-off"),
    ("credit_note", "Credit note"),
    ("refund", "Refund of customer credit"),
]


class Migration(migrations.Migration):
    dependencies = [
        ("reconciliation", "0004_credit_note_change_type"),
    ]

    operations = [
        migrations.RemoveConstraint(
            model_name="accountingchange",
            name="change_type_valid",
        ),
        migrations.AlterField(
            model_name="accountingchange",
            name="change_type",
            field=models.CharField(choices=CHANGE_TYPES, max_length=32),
        ),
        migrations.AddConstraint(
            model_name="accountingchange",
            constraint=models.CheckConstraint(
                condition=models.Q(("change_type__in", [value for value, _ in CHANGE_TYPES])),
                name="change_type_valid",
            ),
        ),
    ]
