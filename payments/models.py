from decimal import Decimal

from django.core.cache import cache
from django.db import models, transaction
from django.db.models import F, Q

from arpilot.models import OrgQuerySet, OrgScopedModel
from arpilot.money import ZERO, money_field


class PaymentSettings(models.Model):
    """An organization's cash-application settings (created with defaults on first use)."""

    organization = models.OneToOneField(
        "arpilot.Organization", on_delete=models.CASCADE, primary_key=True, related_name="+"
    )
    write_off_tolerance = money_field(
        default=Decimal("1.00"), help_text="Largest short-payment a clerk may write off"
    )
    auto_apply_enabled = models.BooleanField(default=True)
    auto_apply_threshold = models.DecimalField(
        max_digits=4, decimal_places=3, default=Decimal("0.900")
    )
    auto_apply_margin = models.DecimalField(
        max_digits=4, decimal_places=3, default=Decimal("0.150")
    )
    auto_apply_max_age_days = models.PositiveIntegerField(default=90)
    write_off_account = models.ForeignKey(
        "receivables.Account",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        help_text="Expense account short-payment write-offs post to",
    )
    auto_apply_credit = models.BooleanField(
        default=False,
        help_text="Settle a customer's new invoice from its on-account credit (oldest first, "
        "same currency) as the invoice is issued",
    )

    class Meta:
        verbose_name = "payment settings"
        verbose_name_plural = "payment settings"
        constraints = [
            models.CheckConstraint(
                condition=Q(write_off_tolerance__gte=0), name="payment_settings_tolerance_nonneg"
            ),
            models.CheckConstraint(
                condition=Q(auto_apply_threshold__gte=0) & Q(auto_apply_threshold__lte=1),
                name="payment_settings_threshold_range",
            ),
            models.CheckConstraint(
                condition=Q(auto_apply_margin__gte=0) & Q(auto_apply_margin__lte=1),
                name="payment_settings_margin_range",
            ),
        ]

    def __str__(self) -> str:
        return f"Payment settings of {self.organization_id}"

    def save(self, *args, **kwargs):
        super().save(*args, **kwargs)
        update_fields = kwargs.get("update_fields")
        if update_fields is not None and "auto_apply_credit" not in update_fields:
            return
        # Issuing an invoice reads auto_apply_credit from the cache (no query): store the
        # new value now and again once committed (a reader may cache the old row meanwhile),
        # however it was saved (service, admin, shell).
        key, value = auto_apply_credit_cache_key(self.organization_id), self.auto_apply_credit
        cache.set(key, value, AUTO_APPLY_CREDIT_CACHE_SECONDS)
        transaction.on_commit(lambda: cache.set(key, value, AUTO_APPLY_CREDIT_CACHE_SECONDS))


# How long a process trusts a cached auto_apply_credit (bounds how long a value cached from a
# save that was rolled back, or from a row saved around the model, may outlive it).
AUTO_APPLY_CREDIT_CACHE_SECONDS = 300


def auto_apply_credit_cache_key(organization_id) -> str:
    return f"payments:auto-apply-credit:{organization_id}"


class PaymentImport(OrgScopedModel):
    """One uploaded bank file and the outcome of importing it."""

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"

    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUEUED)
    format = models.CharField(max_length=16, blank=True, default="")
    filename = models.CharField(max_length=255, blank=True, default="")
    file_size = models.PositiveIntegerField(default=0)
    data = models.BinaryField(editable=False, help_text="The uploaded file, zlib-compressed")
    csv_mapping = models.JSONField(null=True, blank=True)
    bank_account = models.CharField(max_length=100, blank=True, default="")
    currency = models.CharField(max_length=3, blank=True, default="")
    total = models.PositiveIntegerField(default=0, help_text="Credits read from the file")
    processed = models.PositiveIntegerField(default=0)
    created_count = models.PositiveIntegerField(default=0)
    duplicates_count = models.PositiveIntegerField(default=0)
    debits_skipped = models.PositiveIntegerField(default=0)
    rejected = models.JSONField(
        default=list, blank=True, help_text="[{line_number, reason, raw}]: lines not imported"
    )
    created_totals = models.JSONField(
        default=list,
        blank=True,
        help_text="[{currency, count, amount}]: the credits created, per currency, exact "
        "(amount as a decimal string), to tie the import to the statement",
    )
    error = models.TextField(blank=True, default="")
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=["queued", "running", "done", "failed"]),
                name="payment_import_status_valid",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.filename or 'import'} ({self.status})"


class PaymentQuerySet(OrgQuerySet):
    def unmatched(self):
        return self.filter(status=Payment.Status.UNMATCHED)


class Payment(OrgScopedModel):
    class Status(models.TextChoices):
        UNMATCHED = "unmatched", "Unmatched"
        PARTIALLY_APPLIED = "partially_applied", "Partially applied"
        APPLIED = "applied", "Applied"

    class Source(models.TextChoices):
        API = "api", "API"
        IMPORT = "import", "File import"

    amount = money_field()
    payment_date = models.DateField()
    payment_method = models.CharField(max_length=100, blank=True, default="")
    payer_name = models.CharField(max_length=255, blank=True, default="")
    payer_reference = models.CharField(max_length=1000, blank=True, default="")
    external_payment_id = models.CharField(max_length=255, blank=True, default="")
    notes = models.TextField(blank=True, default="")
    currency = models.CharField(max_length=3, blank=True, default="")
    bank_account = models.CharField(max_length=100, blank=True, default="")
    payer_account = models.CharField(
        max_length=64,
        blank=True,
        default="",
        help_text="The payer's account as the bank file gives it (an IBAN or account number, "
        "upper case without spaces); matching learns it like the payer's name",
    )

    status = models.CharField(max_length=20, choices=Status.choices, default=Status.UNMATCHED)
    applied_amount = money_field(default=ZERO)
    written_off_amount = money_field(default=ZERO)
    reviewed = models.BooleanField(default=False)
    reviewed_at = models.DateTimeField(null=True, blank=True)
    auto_applied = models.BooleanField(default=False)
    unapplied_by_clerk = models.BooleanField(
        default=False, help_text="A clerk has taken money of this payment back (ever)"
    )

    source = models.CharField(max_length=10, choices=Source.choices, default=Source.API)
    payment_import = models.ForeignKey(
        PaymentImport, on_delete=models.SET_NULL, null=True, blank=True, related_name="payments"
    )
    line_number = models.PositiveIntegerField(null=True, blank=True)
    fingerprint = models.CharField(max_length=64, blank=True, default="")
    customer = models.ForeignKey(
        "customers.Customer",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        help_text="Whose on-account credit its remainder is (set by a clerk; else the one "
        "customer of the invoices it is applied to)",
    )
    refunded_amount = money_field(
        default=ZERO, help_text="Of its remainder, paid back to the customer (credit refunds)"
    )

    objects = PaymentQuerySet.as_manager()

    class Meta:
        ordering = ["-payment_date", "-created_at"]
        indexes = [
            models.Index(
                fields=["organization", "-payment_date", "-created_at"], name="payment_org_date"
            ),
            models.Index(fields=["organization", "status"], name="payment_org_status"),
            models.Index(fields=["organization", "reviewed"], name="payment_org_reviewed"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "external_payment_id"],
                condition=~Q(external_payment_id=""),
                name="payment_external_id_unique",
            ),
            models.UniqueConstraint(
                fields=["organization", "fingerprint"],
                condition=~Q(fingerprint=""),
                name="payment_fingerprint_unique",
            ),
            models.CheckConstraint(condition=Q(amount__gt=0), name="payment_amount_positive"),
            models.CheckConstraint(
                condition=Q(applied_amount__gte=0) & Q(applied_amount__lte=F("amount")),
                name="payment_applied_range",
            ),
            models.CheckConstraint(
                condition=Q(written_off_amount__gte=0), name="payment_written_off_nonneg"
            ),
            # Amounts have two places, so a thousandth of slack lets nothing more through on
            # PostgreSQL, while SQLite (which subtracts them as floats: 0.18 - 0.17 is
            # 0.00999…) does not refuse an exact refund.
            models.CheckConstraint(
                condition=Q(refunded_amount__gte=0)
                & Q(refunded_amount__lte=F("amount") - F("applied_amount") + Decimal("0.001")),
                name="payment_refunded_range",
            ),
            models.CheckConstraint(
                condition=Q(status__in=["unmatched", "partially_applied", "applied"]),
                name="payment_status_valid",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.amount} from {self.payer_name or '?'} on {self.payment_date}"

    @property
    def unapplied_amount(self) -> Decimal:
        """What is left of it: neither applied nor refunded (the customer's credit)."""
        return self.amount - self.applied_amount - self.refunded_amount

    def derived_status(self) -> str:
        # Refunded money is spent as surely as applied money: a payment applied and
        # refunded in full is done, not partly applied (nor left in the review queue).
        # (Refunded in part and applied to nothing, the rest still waits for its invoices.)
        used = self.applied_amount + self.refunded_amount
        if used >= self.amount and used > 0:
            return self.Status.APPLIED
        if self.applied_amount <= 0:
            return self.Status.UNMATCHED
        return self.Status.PARTIALLY_APPLIED


class PaymentAllocation(OrgScopedModel):
    """Money of one payment applied to one invoice; kept (with ``unapplied_at``) when undone.

    ``journal_entry`` is the Dr cash / Cr receivable entry of ``amount``; a short-payment
    written off has its own entry (Dr write-off expense / Cr receivable). Unapplying
    reverses exactly these entries.
    """

    class AppliedBy(models.TextChoices):
        CLERK = "clerk", "Clerk"
        AUTO = "auto", "Auto-applied"

    payment = models.ForeignKey(Payment, on_delete=models.CASCADE, related_name="allocations")
    # Indexed by ``allocation_invoice`` (invoice, unapplied_at): no index of its own.
    invoice = models.ForeignKey(
        "receivables.Invoice",
        on_delete=models.RESTRICT,
        related_name="payment_allocations",
        db_index=False,
    )
    amount = money_field()
    write_off_amount = money_field(default=ZERO)
    applied_by = models.CharField(max_length=8, choices=AppliedBy.choices)
    journal_entry = models.OneToOneField(
        "receivables.JournalEntry", on_delete=models.RESTRICT, related_name="+"
    )
    write_off_entry = models.OneToOneField(
        "receivables.JournalEntry",
        on_delete=models.RESTRICT,
        null=True,
        blank=True,
        related_name="+",
    )
    unapplied_at = models.DateTimeField(null=True, blank=True)
    unapplied_by_clerk = models.BooleanField(default=False)
    unapply_reason = models.CharField(max_length=500, blank=True, default="")
    # Across currencies, or in a foreign currency (null: the payment's and the invoice's are
    # the base currency): what the invoice was settled with in its own currency, the rate
    # (invoice currency per unit of the payment's), what the money was worth in the base
    # currency, and the realised exchange difference (base; a gain when positive).
    invoice_amount = money_field(null=True, blank=True)
    exchange_rate = models.DecimalField(max_digits=20, decimal_places=10, null=True, blank=True)
    base_amount = money_field(null=True, blank=True)
    exchange_difference = money_field(null=True, blank=True)

    class Meta:
        ordering = ["created_at"]
        indexes = [models.Index(fields=["invoice", "unapplied_at"], name="allocation_invoice")]
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="allocation_amount_positive"),
            models.CheckConstraint(
                condition=Q(write_off_amount__gte=0), name="allocation_write_off_nonneg"
            ),
            models.UniqueConstraint(
                fields=["payment", "invoice"],
                condition=Q(unapplied_at__isnull=True),
                name="allocation_one_active_per_invoice",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.amount} of {self.payment_id} → {self.invoice_id}"

    @property
    def is_active(self) -> bool:
        return self.unapplied_at is None

    @property
    def settled_amount(self) -> Decimal:
        """What the allocation took off the invoice's balance, in the invoice's currency."""
        return self.amount if self.invoice_amount is None else self.invoice_amount


class MatchSuggestion(models.Model):
    """A ranked candidate application of a payment, from the last matching run."""

    # Derived rows that a matching run replaces wholesale (hundreds of thousands at a time,
    # by COPY): no database foreign keys, whose per-row checks were half of the database's
    # work in storing them. Django still deletes them with their organization or payment
    # (on_delete runs in the ORM), payments are never deleted on their own, and they are only
    # ever read through their payment.
    id = models.BigAutoField(primary_key=True)
    # Not indexed: nothing reads suggestions by organization alone (an organization's
    # deletion scans them once), and its index was a tenth of the cost of storing them.
    organization = models.ForeignKey(
        "arpilot.Organization",
        on_delete=models.CASCADE,
        related_name="+",
        db_constraint=False,
        db_index=False,
    )
    # (payment, rank) is unique: that index serves lookups by payment too.
    payment = models.ForeignKey(
        Payment,
        on_delete=models.CASCADE,
        related_name="suggestions",
        db_index=False,
        db_constraint=False,
    )
    rank = models.PositiveSmallIntegerField()
    invoice_ids = models.JSONField()
    invoice_numbers = models.JSONField(default=list)
    amount = money_field()
    score = models.FloatField()
    reasons = models.JSONField(default=list)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = OrgQuerySet.as_manager()

    class Meta:
        ordering = ["payment", "rank"]
        constraints = [
            models.UniqueConstraint(fields=["payment", "rank"], name="suggestion_rank_unique"),
            models.CheckConstraint(
                condition=Q(score__gte=0) & Q(score__lte=1), name="suggestion_score_range"
            ),
        ]

    def __str__(self) -> str:
        return f"#{self.rank} {self.invoice_ids} ({self.score:.2f})"


class PayerCustomerHistory(models.Model):
    """How often the organization's clerks applied money of a payer (normalized name) to a
    customer; matching uses it as evidence."""

    id = models.BigAutoField(primary_key=True)
    organization = models.ForeignKey(
        "arpilot.Organization", on_delete=models.CASCADE, related_name="+"
    )
    payer_key = models.CharField(max_length=255)
    customer = models.ForeignKey("customers.Customer", on_delete=models.CASCADE, related_name="+")
    count = models.PositiveIntegerField(default=0)
    updated_at = models.DateTimeField(auto_now=True)

    objects = OrgQuerySet.as_manager()

    class Meta:
        verbose_name_plural = "payer customer history"
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "payer_key", "customer"], name="payer_history_unique"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.payer_key} → {self.customer_id} x{self.count}"


class CreditRefund(OrgScopedModel):
    """Customer credit paid back: an outgoing payment of (part of) a payment's remainder,
    with its journal entry (the remainder received on account, and paid back)."""

    payment = models.ForeignKey(Payment, on_delete=models.CASCADE, related_name="refunds")
    customer = models.ForeignKey(
        "customers.Customer", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    amount = money_field()
    currency = models.CharField(max_length=3, blank=True, default="")
    refund_date = models.DateField()
    method = models.CharField(max_length=100, blank=True, default="")
    reference = models.CharField(max_length=255, blank=True, default="")
    journal_entry = models.OneToOneField(
        "receivables.JournalEntry", on_delete=models.RESTRICT, related_name="+"
    )

    class Meta:
        ordering = ["-refund_date", "-created_at"]
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="credit_refund_amount_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.amount} {self.currency} refunded of {self.payment_id}"


# Remittance advice lives in its own module; imported here so Django registers its models.
from payments.remittance_models import Remittance, RemittanceLine  # noqa: E402, F401
from payments.rule_models import MatchRule  # noqa: E402, F401
