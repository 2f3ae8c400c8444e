from django.db import migrations, models


class Migration(migrations.Migration):
    """What an allocation across currencies (or in a foreign one) settled, at what rate, what
    the money was worth in the base currency and the realised exchange difference."""

    dependencies = [
        # The leaf when this was written (0003 → 0006 → 0004): one graph, so the test
        # databases of everyone working meanwhile still migrate.
        ("payments", "0004_customer_credit"),
    ]

    operations = [
        migrations.AddField(
            model_name="paymentallocation",
            name="invoice_amount",
            field=models.DecimalField(blank=True, decimal_places=2, max_digits=14, null=True),
        ),
        migrations.AddField(
            model_name="paymentallocation",
            name="exchange_rate",
            field=models.DecimalField(blank=True, decimal_places=10, max_digits=20, null=True),
        ),
        migrations.AddField(
            model_name="paymentallocation",
            name="base_amount",
            field=models.DecimalField(blank=True, decimal_places=2, max_digits=14, null=True),
        ),
        migrations.AddField(
            model_name="paymentallocation",
            name="exchange_difference",
            field=models.DecimalField(blank=True, decimal_places=2, max_digits=14, null=True),
        ),
    ]
