from django.db import models
from django.db.models import Q

from arpilot.db import NextVal
from arpilot.models import OrgScopedModel, SigningSecretFields
from arpilot.money import money_field


class AccountingChange(OrgScopedModel):
    """One money event (or invoice change) on its way to the organization's general ledger.

    ``pending`` → ``approved`` → ``synced`` or ``failed`` (a failed change can be retried,
    back to ``approved``); ``pending`` (or ``failed``) → ``rejected``. Transitions happen only
    in ``reconciliation.services``.
    """

    class ChangeType(models.TextChoices):
        INVOICE_CREATED = "invoice_created", "Invoice created"
        INVOICE_CHANGED = "invoice_changed", "Invoice changed"
        INVOICE_VOIDED = "invoice_voided", "Invoice voided"
        OFFLINE_PAYMENT = "offline_payment", "Offline payment"
        PAYMENT_APPLIED = "payment_applied", "Payment applied"
        PAYMENT_UNAPPLIED = "payment_unapplied", "Payment unapplied"
        WRITE_OFF = "write_off", "Write-off"
        CREDIT_NOTE = "credit_note", "Credit note"
        REFUND = "refund", "Refund of customer credit"

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        APPROVED = "approved", "Approved"
        SYNCED = "synced", "Synced"
        FAILED = "failed", "Failed"
        REJECTED = "rejected", "Rejected"

    # Orders the organization's changes (creation order; numbers may have gaps). PostgreSQL
    # numbers the row on INSERT from one sequence; SQLite is given max + 1.
    sequence = models.PositiveBigIntegerField(
        editable=False, db_default=NextVal("reconciliation_change_sequence")
    )
    # Orders the organization's approvals: taken when the change becomes approved, and
    # committed in number order, so a pull by cursor (``sequence_after``) never skips one.
    approval_sequence = models.PositiveBigIntegerField(null=True, blank=True, editable=False)
    caused_by = models.CharField(
        max_length=150,
        blank=True,
        default="",
        editable=False,
        help_text="Who made the change (user:<id> or api_key:<prefix>; empty for the system)",
    )
    caused_by_name = models.CharField(max_length=150, blank=True, default="", editable=False)
    change_type = models.CharField(max_length=32, choices=ChangeType.choices)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    amount = money_field()
    # SET_NULL: an invoice or customer may be deleted (only if no money ever moved); the change
    # keeps the invoice number and customer name in its payload.
    invoice = models.ForeignKey(
        "receivables.Invoice",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="accounting_changes",
    )
    customer = models.ForeignKey(
        "customers.Customer",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="accounting_changes",
    )
    # Indexed by ``change_payment_status`` (payment, status): no index of its own.
    payment = models.ForeignKey(
        "payments.Payment",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="accounting_changes",
        db_index=False,
    )
    payload = models.JSONField(default=dict, help_text="What the general ledger needs")

    approved_at = models.DateTimeField(null=True, blank=True)
    synced_at = models.DateTimeField(null=True, blank=True)
    failed_at = models.DateTimeField(null=True, blank=True)
    rejected_at = models.DateTimeField(null=True, blank=True)
    decided_by = models.CharField(
        max_length=150, blank=True, default="", help_text="Who approved or rejected it"
    )
    rejection_reason = models.CharField(max_length=500, blank=True, default="")
    error_message = models.TextField(blank=True, default="")
    attempts = models.PositiveIntegerField(default=0, help_text="Sync attempts that failed or ran")
    # Push sync: not sent again before this (backoff after a failed attempt).
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    # Push sync lease: a worker holds the change until then; its token proves whose it is.
    locked_until = models.DateTimeField(null=True, blank=True)
    lease_token = models.UUIDField(null=True, blank=True, editable=False)

    class Meta:
        ordering = ["sequence"]
        indexes = [
            models.Index(
                fields=["organization", "status", "sequence"], name="change_org_status_seq"
            ),
            models.Index(fields=["payment", "status"], name="change_payment_status"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "sequence"], name="change_sequence_unique"
            ),
            models.UniqueConstraint(
                fields=["organization", "approval_sequence"],
                name="change_approval_sequence_unique",
            ),
            models.CheckConstraint(
                condition=Q(status__in=["pending", "approved", "synced", "failed", "rejected"]),
                name="change_status_valid",
            ),
            models.CheckConstraint(
                condition=Q(
                    change_type__in=[
                        "invoice_created",
                        "invoice_changed",
                        "invoice_voided",
                        "offline_payment",
                        "payment_applied",
                        "payment_unapplied",
                        "write_off",
                        "credit_note",
                        "refund",
                    ]
                ),
                name="change_type_valid",
            ),
            models.CheckConstraint(
                condition=~Q(status__in=["approved", "synced", "failed"])
                | Q(approved_at__isnull=False),
                name="change_approved_at_set",
            ),
            models.CheckConstraint(
                condition=~Q(status="synced") | Q(synced_at__isnull=False),
                name="change_synced_at_set",
            ),
            models.CheckConstraint(
                condition=~Q(status="failed") | Q(failed_at__isnull=False),
                name="change_failed_at_set",
            ),
            models.CheckConstraint(
                condition=~Q(status="rejected") | Q(rejected_at__isnull=False),
                name="change_rejected_at_set",
            ),
        ]

    def __str__(self) -> str:
        return f"#{self.sequence} {self.change_type} {self.amount} ({self.status})"


class SyncTarget(OrgScopedModel, SigningSecretFields):
    """The organization's accounting push target: approved changes are POSTed there, signed
    like webhooks. Without one, integrations pull changes through the API."""

    url = models.URLField(max_length=2000)
    enabled = models.BooleanField(default=True)
    # One sync run per organization at a time (keeps batches in sequence order).
    locked_until = models.DateTimeField(null=True, blank=True)
    lease_token = models.UUIDField(null=True, blank=True, editable=False)
    last_success_at = models.DateTimeField(null=True, blank=True)
    last_failure_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True, default="")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["organization"], name="sync_target_one_per_org"),
        ]

    def __str__(self) -> str:
        return self.url
