"""Collections: each organization's dunning policy and its levels, the reminders a run sends,
promises to pay and disputes (both take invoices out of dunning), and dispute reasons."""

from datetime import time

from django.db import models
from django.db.models import Q

from arpilot.models import OrgQuerySet, OrgScopedModel
from arpilot.money import ZERO, money_field


class DunningPolicy(OrgScopedModel):
    """An organization's dunning policy (one each): when the daily run happens and its levels."""

    enabled = models.BooleanField(default=True)
    run_at = models.TimeField(default=time(8, 0), help_text="Local time of the daily run")
    minimum_overdue = money_field(
        default=ZERO, help_text="No reminder for a customer whose overdue total is under this"
    )
    remittance_instructions = models.TextField(blank=True, default="")
    # The organization-local date of the last scheduled run: the beat starts one run a day.
    last_run_on = models.DateField(null=True, blank=True, editable=False)

    class Meta:
        verbose_name_plural = "dunning policies"
        constraints = [
            models.UniqueConstraint(fields=["organization"], name="dunning_policy_one_per_org"),
        ]

    def __str__(self) -> str:
        return f"Dunning policy of {self.organization_id}"


class DunningLevel(models.Model):
    """One step of a policy: how long after the due date, to whom, what it says."""

    id = models.BigAutoField(primary_key=True)
    organization = models.ForeignKey(
        "arpilot.Organization", on_delete=models.CASCADE, related_name="+"
    )
    policy = models.ForeignKey(DunningPolicy, on_delete=models.CASCADE, related_name="levels")
    level = models.PositiveSmallIntegerField()
    days_after_due = models.PositiveIntegerField()
    contact_escalation_levels = models.JSONField(default=list)
    subject = models.CharField(max_length=500)
    body_text = models.TextField()
    body_html = models.TextField(blank=True, default="")
    attach_statement = models.BooleanField(default=False)

    objects = OrgQuerySet.as_manager()

    class Meta:
        ordering = ["policy", "level"]
        constraints = [
            models.UniqueConstraint(fields=["policy", "level"], name="dunning_level_unique"),
        ]

    def __str__(self) -> str:
        return f"Level {self.level} (+{self.days_after_due} days)"


class Reminder(OrgScopedModel):
    """One email of a run: one customer, one level, the customer's invoices at that level."""

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        SENT = "sent", "Sent"
        FAILED = "failed", "Failed"
        CANCELLED = "cancelled", "Cancelled"

    customer = models.ForeignKey(
        "customers.Customer", on_delete=models.CASCADE, related_name="reminders"
    )
    level = models.PositiveSmallIntegerField()
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUEUED)
    to = models.JSONField(default=list)
    subject = models.CharField(max_length=998)
    total = money_field()
    run_date = models.DateField(help_text="The organization-local date of the run")
    attach_statement = models.BooleanField(default=False)
    # The mail outbox row (mail is reached only through its services: no foreign key).
    email_id = models.UUIDField(null=True, blank=True, editable=False)
    sent_at = models.DateTimeField(null=True, blank=True)
    cancelled_reason = models.CharField(max_length=500, blank=True, default="")
    invoices = models.ManyToManyField(
        "receivables.Invoice", through="ReminderInvoice", related_name="+"
    )

    class Meta:
        ordering = ["-created_at", "id"]
        indexes = [
            models.Index(fields=["organization", "created_at"]),
            models.Index(fields=["organization", "status", "created_at"]),
            models.Index(fields=["organization", "customer", "created_at"]),
        ]

    def __str__(self) -> str:
        return f"Level {self.level} reminder to {self.customer_id}"


class ReminderInvoice(models.Model):
    """An invoice a reminder names; an invoice gets each level once, ever."""

    id = models.BigAutoField(primary_key=True)
    organization = models.ForeignKey(
        "arpilot.Organization", on_delete=models.CASCADE, related_name="+"
    )
    reminder = models.ForeignKey(Reminder, on_delete=models.CASCADE, related_name="lines")
    invoice = models.ForeignKey(
        "receivables.Invoice", on_delete=models.CASCADE, related_name="reminder_lines"
    )
    level = models.PositiveSmallIntegerField()
    amount_due = money_field()
    days_overdue = models.IntegerField()
    # Its reminder was cancelled before sending: the level may be sent again.
    released = models.BooleanField(default=False)

    objects = OrgQuerySet.as_manager()

    class Meta:
        ordering = ["reminder", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["invoice", "level"],
                condition=Q(released=False),
                name="reminder_invoice_level_once",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.invoice_id} level {self.level}"


class Promise(OrgScopedModel):
    """A customer's promise to pay invoices by a date: dunning pauses for them until then."""

    class Status(models.TextChoices):
        OPEN = "open", "Open"
        KEPT = "kept", "Kept"
        BROKEN = "broken", "Broken"
        CANCELLED = "cancelled", "Cancelled"

    customer = models.ForeignKey(
        "customers.Customer", on_delete=models.CASCADE, related_name="promises"
    )
    contact = models.ForeignKey(
        "customers.Contact", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    invoices = models.ManyToManyField(
        "receivables.Invoice", through="PromiseInvoice", related_name="+"
    )
    amount = money_field()
    promised_date = models.DateField()
    note = models.TextField(blank=True, default="")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.OPEN)
    # What the invoices owed when the promise was made: kept once they owe ``amount`` less.
    amount_due_at_promise = money_field()
    resolved_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "id"]
        indexes = [
            models.Index(fields=["organization", "created_at"]),
            models.Index(fields=["status", "promised_date"]),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="promise_amount_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.amount} by {self.promised_date}"


class PromiseInvoice(models.Model):
    id = models.BigAutoField(primary_key=True)
    organization = models.ForeignKey(
        "arpilot.Organization", on_delete=models.CASCADE, related_name="+"
    )
    promise = models.ForeignKey(Promise, on_delete=models.CASCADE, related_name="lines")
    invoice = models.ForeignKey(
        "receivables.Invoice", on_delete=models.CASCADE, related_name="promise_lines"
    )

    objects = OrgQuerySet.as_manager()

    class Meta:
        ordering = ["promise", "id"]
        constraints = [
            models.UniqueConstraint(fields=["promise", "invoice"], name="promise_invoice_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.promise_id} → {self.invoice_id}"


class DisputeReason(OrgScopedModel):
    """A reason code of the organization's list (seeded with a default list)."""

    code = models.SlugField(max_length=50)
    label = models.CharField(max_length=200)
    is_active = models.BooleanField(default=True)

    class Meta:
        ordering = ["label", "id"]
        constraints = [
            models.UniqueConstraint(fields=["organization", "code"], name="dispute_reason_unique"),
        ]

    def __str__(self) -> str:
        return self.label


class Dispute(OrgScopedModel):
    """A customer disputes an invoice: out of dunning until resolved."""

    class Status(models.TextChoices):
        OPEN = "open", "Open"
        RESOLVED = "resolved", "Resolved"

    class Resolution(models.TextChoices):
        WITHDRAWN = "withdrawn", "Withdrawn"
        CREDIT_NOTE = "credit_note", "Credit note"
        WRITE_OFF = "write_off", "Write-off"

    invoice = models.ForeignKey(
        "receivables.Invoice", on_delete=models.CASCADE, related_name="disputes"
    )
    reason = models.ForeignKey(DisputeReason, on_delete=models.PROTECT, related_name="disputes")
    note = models.TextField(blank=True, default="")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.OPEN)
    resolution = models.CharField(max_length=16, choices=Resolution.choices, blank=True, default="")
    resolution_note = models.TextField(blank=True, default="")
    resolved_at = models.DateTimeField(null=True, blank=True)
    # What a ``credit_note`` or ``write_off`` resolution took off the invoice's balance, the
    # ledger entry that did it and the accounting change it recorded (null for ``withdrawn``).
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

    class Meta:
        ordering = ["-created_at", "id"]
        indexes = [models.Index(fields=["organization", "status", "created_at"])]
        constraints = [
            models.UniqueConstraint(
                fields=["invoice"], condition=Q(status="open"), name="dispute_one_open_per_invoice"
            ),
        ]

    def __str__(self) -> str:
        return f"Dispute of {self.invoice_id} ({self.status})"


class CustomerNote(OrgScopedModel):
    """A clerk's note about a customer, or a call logged with one of its contacts."""

    class Kind(models.TextChoices):
        NOTE = "note", "Note"
        CALL = "call", "Call"

    customer = models.ForeignKey(
        "customers.Customer", on_delete=models.CASCADE, related_name="collection_notes"
    )
    kind = models.CharField(max_length=8, choices=Kind.choices, default=Kind.NOTE)
    body = models.TextField()
    contact = models.ForeignKey(
        "customers.Contact", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    # The actor (``arpilot.actors``): "user:<id>" or "api_key:<prefix>"; "" for the system.
    created_by = models.CharField(max_length=100, blank=True, default="")
    created_by_name = models.CharField(max_length=200, blank=True, default="")

    class Meta:
        ordering = ["-created_at", "id"]
        indexes = [models.Index(fields=["organization", "customer", "created_at"])]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} about {self.customer_id}"
