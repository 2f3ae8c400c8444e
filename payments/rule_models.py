"""Matching rules an organization writes (like Odoo's reconcile models and Tryton's statement
rules): conditions on a payment and what to do when they hold (imported by
``payments.models``, whose app they belong to). Evaluated by ``payments.services.rules``."""

from __future__ import annotations

from django.db import models
from django.db.models import Q

from arpilot.models import OrgScopedModel
from arpilot.money import ZERO, money_field


class MatchRule(OrgScopedModel):
    """Conditions (all those given must hold) and one action. The organization's active rules
    are tried in ``sequence`` order (then name) and the first that matches a payment wins."""

    class Action(models.TextChoices):
        ASSIGN_CUSTOMER = "assign_customer", "Assign a customer"
        POINT_TO_INVOICE = "point_to_invoice", "Point to the invoice the reference names"
        WRITE_OFF = "write_off", "Write off the difference within a tolerance"
        REVIEW = "review", "Leave for review"

    name = models.CharField(max_length=100)
    sequence = models.PositiveIntegerField(default=10, help_text="Lower runs first")
    active = models.BooleanField(default=True)
    # Conditions: an empty one always holds.
    payer_contains = models.CharField(
        max_length=255, blank=True, default="", help_text="Payer name contains (any case)"
    )
    payer_regex = models.CharField(
        max_length=300, blank=True, default="", help_text="Payer name matches (searched)"
    )
    reference_regex = models.CharField(
        max_length=300,
        blank=True,
        default="",
        help_text="Reference matches (searched); a named group `invoice` or `customer` "
        "captures the invoice number or customer id",
    )
    amount_min = money_field(null=True, blank=True)
    amount_max = money_field(null=True, blank=True)
    currency = models.CharField(max_length=3, blank=True, default="")
    # The action.
    action = models.CharField(max_length=20, choices=Action.choices)
    customer = models.ForeignKey(
        "customers.Customer",
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="+",
        help_text="assign_customer: whose invoices the payment pays",
    )
    write_off_account = models.ForeignKey(
        "receivables.Account",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        help_text="write_off: the expense account (else the organization's write-off account)",
    )
    write_off_tolerance = money_field(
        default=ZERO, help_text="write_off: the largest difference written off"
    )

    class Meta:
        ordering = ["sequence", "name"]
        indexes = [
            models.Index(fields=["organization", "active", "sequence"], name="match_rule_order")
        ]
        constraints = [
            models.UniqueConstraint(fields=["organization", "name"], name="match_rule_name_unique"),
            models.CheckConstraint(
                condition=Q(
                    action__in=["assign_customer", "point_to_invoice", "write_off", "review"]
                ),
                name="match_rule_action_valid",
            ),
            models.CheckConstraint(
                condition=Q(write_off_tolerance__gte=0), name="match_rule_tolerance_nonneg"
            ),
        ]

    def __str__(self) -> str:
        return f"rule '{self.name}' ({self.action})"
