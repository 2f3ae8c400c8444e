"""Deductions: a customer's short payment with a reason, held apart from overdue debt until
it is resolved, and the organization's reason codes (each mapped to a GL account). Credit
notes: customer documents with GL lines, posted, then applied to open invoices."""

from django.db import models
from django.db.models import F, Q

from arpilot.models import OrgQuerySet, OrgScopedModel
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


class CreditNote(OrgScopedModel):
    """A customer document with GL lines that lowers what the customer owes: posted to the
    ledger (Dr each line's account / Cr receivable), then applied to open invoices of the
    customer in its currency like a payment, until ``amount_remaining`` is spent."""

    class Status(models.TextChoices):
        DRAFT = "draft", "Draft"
        POSTED = "posted", "Posted"
        VOID = "void", "Void"

    number = models.CharField(max_length=100)
    customer = models.ForeignKey(
        "customers.Customer", on_delete=models.CASCADE, related_name="credit_notes"
    )
    # ISO 4217, upper-case (the organization's base currency unless another is given).
    currency = models.CharField(max_length=3)
    issue_date = models.DateField()
    # The invoice it is against (same customer and currency), if any: a reference; it is
    # applied to invoices through allocations.
    invoice = models.ForeignKey(
        "receivables.Invoice",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="credit_notes",
    )
    memo = models.TextField(blank=True, default="")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.DRAFT)
    amount = money_field()
    amount_remaining = money_field()
    # Base currency per unit of ``currency`` the note is booked at (given, the invoice's it is
    # against, or the rate table's on the issue date); null in the base currency (rate 1).
    exchange_rate = models.DecimalField(max_digits=20, decimal_places=10, null=True, blank=True)
    ar_account = models.ForeignKey(
        "receivables.Account", on_delete=models.RESTRICT, related_name="+"
    )
    # The posting (Dr lines / Cr receivable) and, once voided, its reversal.
    journal_entry = models.ForeignKey(
        "receivables.JournalEntry",
        on_delete=models.RESTRICT,
        null=True,
        blank=True,
        related_name="+",
        editable=False,
    )
    void_entry = models.ForeignKey(
        "receivables.JournalEntry",
        on_delete=models.RESTRICT,
        null=True,
        blank=True,
        related_name="+",
        editable=False,
    )
    posted_at = models.DateTimeField(null=True, blank=True, editable=False)
    voided_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        ordering = ["-issue_date", "-created_at"]
        indexes = [
            models.Index(fields=["organization", "-issue_date", "-created_at"]),
            models.Index(fields=["organization", "customer", "status"]),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "number"], name="credit_note_number_unique"
            ),
            models.CheckConstraint(condition=Q(amount__gte=0), name="credit_note_amount_nonneg"),
            models.CheckConstraint(
                condition=Q(amount_remaining__gte=0) & Q(amount_remaining__lte=F("amount")),
                name="credit_note_remaining_range",
            ),
            models.CheckConstraint(
                condition=Q(status__in=["draft", "posted", "void"]),
                name="credit_note_status_valid",
            ),
        ]

    def __str__(self) -> str:
        return self.number

    @property
    def amount_applied(self):
        return self.amount - self.amount_remaining


class CreditNoteLine(models.Model):
    """A line of a credit note: the revenue (or contra-revenue) account and fund it debits."""

    id = models.BigAutoField(primary_key=True)
    organization = models.ForeignKey(
        "arpilot.Organization", on_delete=models.CASCADE, related_name="+"
    )
    credit_note = models.ForeignKey(CreditNote, on_delete=models.CASCADE, related_name="lines")
    position = models.PositiveIntegerField(default=0)
    amount = money_field()
    description = models.CharField(max_length=500, blank=True, default="")
    account = models.ForeignKey("receivables.Account", on_delete=models.RESTRICT, related_name="+")
    fund = models.ForeignKey("receivables.Fund", on_delete=models.RESTRICT, related_name="+")

    objects = OrgQuerySet.as_manager()

    class Meta:
        ordering = ["position", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(amount__gt=0), name="credit_note_line_amount_positive"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.amount} → {self.account_id}/{self.fund_id}"


class CreditNoteAllocation(OrgScopedModel):
    """A part of a credit note applied to an invoice. Unapplying marks it (``unapplied_at``);
    it is never deleted."""

    credit_note = models.ForeignKey(
        CreditNote, on_delete=models.CASCADE, related_name="allocations"
    )
    # CASCADE: an invoice can be deleted only while it has received nothing (an allocation
    # still applied counts), so only unapplied allocations can go with it.
    invoice = models.ForeignKey(
        "receivables.Invoice", on_delete=models.CASCADE, related_name="credit_note_allocations"
    )
    amount = money_field()
    # In another currency than the base, when the note's and the invoice's booked rates
    # differ: the realised exchange difference posted (reversed on unapply); null otherwise.
    exchange_entry = models.ForeignKey(
        "receivables.JournalEntry",
        on_delete=models.RESTRICT,
        null=True,
        blank=True,
        related_name="+",
        editable=False,
    )
    created_by = models.CharField(max_length=150, blank=True, default="")
    unapplied_at = models.DateTimeField(null=True, blank=True)
    unapplied_by = models.CharField(max_length=150, blank=True, default="")

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [
            models.Index(fields=["invoice"], condition=Q(unapplied_at__isnull=True),
                         name="cn_allocation_active_invoice"),
        ]  # fmt: skip
        constraints = [
            models.CheckConstraint(
                condition=Q(amount__gt=0), name="credit_note_allocation_positive"
            ),
        ]

    @property
    def is_applied(self) -> bool:
        return self.unapplied_at is None

    def __str__(self) -> str:
        return f"{self.amount} of {self.credit_note_id} on {self.invoice_id}"
