import uuid
from decimal import Decimal

import django.db.models.deletion
from django.db import migrations, models

import arpilot.money


class Migration(migrations.Migration):
    dependencies = [
        ("arpilot", "0001_initial"),
        ("customers", "0001_initial"),
        ("receivables", "0001_initial"),
        ("payments", "0009_money_three_places"),
    ]

    operations = [
        migrations.CreateModel(
            name="MatchRule",
            fields=[
                (
                    "id",
                    models.UUIDField(
                        default=uuid.uuid4, editable=False, primary_key=True, serialize=False
                    ),
                ),
                ("created_at", models.DateTimeField(auto_now_add=True)),
                ("updated_at", models.DateTimeField(auto_now=True)),
                ("name", models.CharField(max_length=100)),
                (
                    "sequence",
                    models.PositiveIntegerField(default=10, help_text="Lower runs first"),
                ),
                ("active", models.BooleanField(default=True)),
                (
                    "payer_contains",
                    models.CharField(
                        blank=True,
                        default="",
                        help_text="Payer name contains (any case)",
                        max_length=255,
                    ),
                ),
                (
                    "payer_regex",
                    models.CharField(
                        blank=True,
                        default="",
                        help_text="Payer name matches (searched)",
                        max_length=300,
                    ),
                ),
                (
                    "reference_regex",
                    models.CharField(
                        blank=True,
                        default="",
                        help_text="Reference matches (searched); a named group `invoice` or "
                        "`customer` captures the invoice number or customer id",
                        max_length=300,
                    ),
                ),
                (
                    "amount_min",
                    arpilot.money.MoneyField(
                        blank=True, decimal_places=3, max_digits=15, null=True
                    ),
                ),
                (
                    "amount_max",
                    arpilot.money.MoneyField(
                        blank=True, decimal_places=3, max_digits=15, null=True
                    ),
                ),
                ("currency", models.CharField(blank=True, default="", max_length=3)),
                (
                    "action",
                    models.CharField(
                        choices=[
                            ("assign_customer", "Assign a customer"),
                            ("point_to_invoice", "Point to the invoice the reference names"),
                            ("write_off", "Write off the difference within a tolerance"),
                            ("review", "Leave for review"),
                        ],
                        max_length=20,
                    ),
                ),
                (
                    "write_off_tolerance",
                    arpilot.money.MoneyField(
                        decimal_places=3,
                        default=Decimal("0"),
                        help_text="write_off: the largest difference written off",
                        max_digits=15,
                    ),
                ),
                (
                    "customer",
                    models.ForeignKey(
                        blank=True,
                        help_text="assign_customer: whose invoices the payment pays",
                        null=True,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="+",
                        to="customers.customer",
                    ),
                ),
                (
                    "organization",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="+",
                        to="arpilot.organization",
                    ),
                ),
                (
                    "write_off_account",
                    models.ForeignKey(
                        blank=True,
                        help_text="write_off: the expense account (else the organization's "
                        "write-off account)",
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="+",
                        to="receivables.account",
                    ),
                ),
            ],
            options={
                "ordering": ["sequence", "name"],
                "indexes": [
                    models.Index(
                        fields=["organization", "active", "sequence"], name="match_rule_order"
                    )
                ],
                "constraints": [
                    models.UniqueConstraint(
                        fields=("organization", "name"), name="match_rule_name_unique"
                    ),
                    models.CheckConstraint(
                        condition=models.Q(
                            (
                                "action__in",
                                ["assign_customer", "point_to_invoice", "write_off", "review"],
                            )
                        ),
                        name="match_rule_action_valid",
                    ),
                    models.CheckConstraint(
                        condition=models.Q(("write_off_tolerance__gte", 0)),
                        name="match_rule_tolerance_nonneg",
                    ),
                ],
            },
        ),
    ]
