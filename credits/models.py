"""Deductions: a customer's short payment with a reason, held apart from overdue debt until
it is resolved, and the organization's reason codes (each mapped to a GL account)."""

from django.db import models
from django.db.models import Q

from arpilot.models import OrgScopedModel
from arpilot.money import money_field


class DeductionReason(OrgScopedModel):
    """A reason code of the organization's list (seeded with a default list), mapped to the
    account a ``write_off`` resolution posts to."""

    code = models.SlugField(max_length=50)
    name = models.CharField(max_length=200)
    account = models.ForeignKey("receivables.Account", on_delete=models.PROTECT, related_name="+")
    is_active = models.BooleanField(default=True)

    class Meta:
        ordering = ["name", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "code"], name="deduction_reason_unique"
            ),
        ]

    def __str__(self) -> str:
        return self.name


class Deduction(OrgScopedModel):
    """What a customer took off an invoice for a reason: the invoice's remainder is this
    deduction, not overdue debt (out of dunning), until resolved."""

    class Status(models.TextChoices):
        OPEN = "open", "Open"
        RESOLVED = "resolved", "Resolved"

    class Resolution(models.TextChoices):
        WRITE_OFF = "write_off", "Written off"
        CREDIT_NOTE = "credit_note", "Credit note"
        REBILL = "rebill", "Re-billed"
        COLLECTED = "collected", "Collected"

    invoice = models.ForeignKey(
        "receivables.Invoice", on_delete=models.CASCADE, related_name="deductions"
    )
    customer = models.ForeignKey(
        "customers.Customer", on_delete=models.CASCADE, related_name="deductions"
    )
    # The payment whose short pay opened it (null when a clerk opened it on the invoice).
    payment = models.ForeignKey(
        "payments.Payment", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    amount = money_field()
    reason = models.ForeignKey(DeductionReason, on_delete=models.PROTECT, related_name="deductions")
    note = models.TextField(blank=True, default="")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.OPEN)
    resolution = models.CharField(max_length=16, choices=Resolution.choices, blank=True, default="")
    resolution_note = models.TextField(blank=True, default="")
    resolved_at = models.DateTimeField(null=True, blank=True)
    # What a money-moving resolution took off the invoice, the ledger entry that did it, the
    # accounting change it recorded, and (``rebill``) the new invoice; null otherwise.
    resolution_amount = money_field(null=True, blank=True)
    journal_entry = models.ForeignKey(
        "receivables.JournalEntry",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        editable=False,
    )
    accounting_change = models.ForeignKey(
        "reconciliation.AccountingChange",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        editable=False,
    )
    rebill_invoice = models.ForeignKey(
        "receivables.Invoice",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        editable=False,
    )

    class Meta:
        ordering = ["-created_at", "id"]
        indexes = [models.Index(fields=["organization", "status", "created_at"])]
        constraints = [
            models.UniqueConstraint(
                fields=["invoice"],
                condition=Q(status="open"),
                name="deduction_one_open_per_invoice",
            ),
            models.CheckConstraint(condition=Q(amount__gt=0), name="deduction_amount_positive"),
        ]

    def __str__(self) -> str:
        return f"Deduction of {self.amount} on {self.invoice_id} ({self.status})"
