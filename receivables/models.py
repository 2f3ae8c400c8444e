from decimal import Decimal

from django.db import models
from django.db.models import F, Q
from django.db.models.functions import Lower

from arpilot.db import NextVal
from arpilot.models import OrgQuerySet, OrgScopedModel
from arpilot.money import ZERO, money_field


class Account(OrgScopedModel):
    """A general-ledger account of the organization's chart of accounts."""

    class Type(models.TextChoices):
        ASSET = "asset", "Asset"
        LIABILITY = "liability", "Liability"
        EQUITY = "equity", "Equity"
        INCOME = "income", "Income"
        EXPENSE = "expense", "Expense"

    class Role(models.TextChoices):
        """The account ARPilot posts to by default for each purpose (one per organization)."""

        CASH = "cash", "Default cash"
        RECEIVABLE = "receivable", "Default accounts receivable"
        REVENUE = "revenue", "Default revenue"

    account_number = models.PositiveIntegerField()
    name = models.CharField(max_length=200)
    type = models.CharField(max_length=16, choices=Type.choices)
    role = models.CharField(max_length=16, choices=Role.choices, null=True, blank=True)

    class Meta:
        ordering = ["account_number"]
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "account_number"], name="account_number_unique"
            ),
            models.UniqueConstraint(
                fields=["organization", "role"],
                condition=Q(role__isnull=False),
                name="account_role_unique",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.account_number} {self.name}"


class Fund(models.Model):
    """A fund (restricted or general) that lines and ledger postings belong to."""

    id = models.BigAutoField(primary_key=True)
    organization = models.ForeignKey(
        "arpilot.Organization", on_delete=models.CASCADE, related_name="+"
    )
    name = models.CharField(max_length=200)
    is_default = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = OrgQuerySet.as_manager()

    class Meta:
        ordering = ["id"]
        constraints = [
            # Case-insensitive: "Building Fund" and "building fund" are the same fund.
            models.UniqueConstraint(Lower("name"), "organization", name="fund_name_unique_ci"),
            models.UniqueConstraint(
                fields=["organization"], condition=Q(is_default=True), name="fund_one_default"
            ),
        ]

    def __str__(self) -> str:
        return self.name


class ReceivablesCounter(models.Model):
    """The last Aplos-face integer id handed out to an invoice of the organization."""

    organization = models.OneToOneField(
        "arpilot.Organization", on_delete=models.CASCADE, primary_key=True, related_name="+"
    )
    last_invoice_aplos_id = models.PositiveBigIntegerField(default=0)

    def __str__(self) -> str:
        return f"{self.organization_id}: {self.last_invoice_aplos_id}"


class AplosContact(models.Model):
    """The integer id (and Aplos contact type) a customer has on the Aplos face."""

    class Type(models.TextChoices):
        COMPANY = "company", "Company"
        INDIVIDUAL = "individual", "Individual"

    id = models.BigAutoField(primary_key=True)
    organization = models.ForeignKey(
        "arpilot.Organization", on_delete=models.CASCADE, related_name="+"
    )
    customer = models.OneToOneField(
        "customers.Customer", on_delete=models.CASCADE, related_name="aplos_contact"
    )
    type = models.CharField(max_length=16, choices=Type.choices, default=Type.COMPANY)
    # The company name an Aplos post created this customer under (null for customers made
    # elsewhere): unique per organization case-insensitively, so concurrent posts naming
    # the same new company find one customer instead of creating several.
    lookup_name = models.CharField(max_length=255, null=True, blank=True, editable=False)

    objects = OrgQuerySet.as_manager()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                Lower("lookup_name"),
                "organization",
                condition=Q(lookup_name__isnull=False),
                name="aplos_contact_lookup_unique_ci",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.id} → {self.customer_id}"


class InvoiceQuerySet(OrgQuerySet):
    def open(self):
        return self.filter(status__in=Invoice.OPEN_STATUSES)


# Open invoices with money still due: the partial indexes the dunning run and matching read.
OPEN_UNPAID = Q(status__in=["pending", "partial", "overdue"], amount_due__gt=0)


class Invoice(OrgScopedModel):
    class Status(models.TextChoices):
        DRAFT = "draft", "Draft"
        PENDING = "pending", "Pending"
        PARTIAL = "partial", "Partially paid"
        PAID = "paid", "Paid"
        OVERDUE = "overdue", "Overdue"
        VOID = "void", "Void"

    OPEN_STATUSES = (Status.PENDING, Status.PARTIAL, Status.OVERDUE)
    ISSUED_STATUSES = (Status.PENDING, Status.PARTIAL, Status.OVERDUE, Status.PAID)

    # PostgreSQL numbers the row on INSERT (from one sequence; gaps allowed); SQLite gets it
    # from the organization's counter row (see services.invoices._next_aplos_id).
    aplos_id = models.PositiveBigIntegerField(
        editable=False, db_default=NextVal("receivables_invoice_aplos_id_seq")
    )
    invoice_number = models.CharField(max_length=100)
    customer = models.ForeignKey(
        "customers.Customer", on_delete=models.RESTRICT, related_name="invoices"
    )
    customer_name = models.CharField(max_length=255, blank=True, default="")
    customer_address = models.TextField(blank=True, default="")
    # ISO 4217, upper-case; set by ``invoice_create`` (the organization's base currency
    # unless another is given). Amounts have at most its decimal places.
    currency = models.CharField(max_length=3)
    # Base currency per unit of ``currency`` at issue (what the receivable was booked at);
    # null for an invoice in the base currency (rate 1).
    exchange_rate = models.DecimalField(max_digits=20, decimal_places=10, null=True, blank=True)
    amount = money_field()
    amount_due = money_field()
    issue_date = models.DateField()
    due_date = models.DateField()
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    notes = models.TextField(blank=True, default="")
    ar_account = models.ForeignKey(Account, on_delete=models.RESTRICT, related_name="+")
    voided_at = models.DateTimeField(null=True, blank=True)

    objects = InvoiceQuerySet.as_manager()

    class Meta:
        ordering = ["-issue_date", "-created_at"]
        indexes = [
            models.Index(
                fields=["organization", "status", "-issue_date", "-created_at"],
                name="invoice_org_status_issued",
            ),
            models.Index(
                fields=["organization", "-issue_date", "-created_at"], name="invoice_org_issued"
            ),
            models.Index(fields=["organization", "customer"], name="invoice_org_customer"),
            models.Index(fields=["status", "due_date"], name="invoice_status_due"),
            # The dunning run reads a batch of customers' open, unpaid invoices by due date.
            models.Index(
                fields=["organization", "customer", "due_date"],
                condition=OPEN_UNPAID,
                name="invoice_open_by_customer",
            ),
            # Matching one payment reads a customer's oldest open invoices and those of an
            # amount (payments.services.match_candidates), a bounded few whatever it owes.
            models.Index(
                fields=["customer", "issue_date"],
                condition=OPEN_UNPAID,
                name="invoice_open_customer_age",
            ),
            models.Index(
                fields=["customer", "amount_due", "issue_date"],
                condition=OPEN_UNPAID,
                name="invoice_open_customer_amount",
            ),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "invoice_number"], name="invoice_number_unique"
            ),
            models.UniqueConstraint(fields=["organization", "aplos_id"], name="invoice_aplos_id"),
            models.CheckConstraint(condition=Q(amount__gte=0), name="invoice_amount_nonneg"),
            models.CheckConstraint(
                condition=Q(amount_due__gte=0) & Q(amount_due__lte=F("amount")),
                name="invoice_amount_due_range",
            ),
            models.CheckConstraint(
                condition=Q(status__in=["draft", "pending", "partial", "paid", "overdue", "void"]),
                name="invoice_status_valid",
            ),
        ]

    def __str__(self) -> str:
        return self.invoice_number

    @property
    def amount_paid(self) -> Decimal:
        return self.amount - self.amount_due

    @property
    def rendered_customer_name(self) -> str:
        return self.customer_name or self.customer.company_name


class ExchangeRate(OrgScopedModel):
    """What one unit of ``currency`` is worth in the organization's base currency, from
    ``date`` on (until a later rate): ``rate_on`` reads the latest on or before a date."""

    currency = models.CharField(max_length=3)
    date = models.DateField()
    rate = models.DecimalField(max_digits=20, decimal_places=10)

    objects = OrgQuerySet.as_manager()

    class Meta:
        ordering = ["currency", "-date"]
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "currency", "date"], name="exchange_rate_unique"
            ),
            models.CheckConstraint(condition=Q(rate__gt=0), name="exchange_rate_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.currency} {self.date}: {self.rate}"


class InvoiceLine(models.Model):
    id = models.BigAutoField(primary_key=True)
    organization = models.ForeignKey(
        "arpilot.Organization", on_delete=models.CASCADE, related_name="+"
    )
    invoice = models.ForeignKey(Invoice, on_delete=models.CASCADE, related_name="lines")
    position = models.PositiveIntegerField(default=0)
    amount = money_field()
    note = models.CharField(max_length=500, blank=True, default="")
    account = models.ForeignKey(Account, on_delete=models.RESTRICT, related_name="+")
    fund = models.ForeignKey(Fund, on_delete=models.RESTRICT, related_name="+")

    objects = OrgQuerySet.as_manager()

    class Meta:
        ordering = ["position", "id"]
        constraints = [
            models.CheckConstraint(condition=Q(amount__gte=0), name="invoice_line_amount_nonneg"),
        ]

    def __str__(self) -> str:
        return f"{self.amount} → {self.account_id}/{self.fund_id}"


class InvoiceOfflinePayment(OrgScopedModel):
    """Money received outside ARPilot's payment import (``external_payment_amount``,
    the Aplos ``receive`` action, or a balance already paid when the invoice was created)."""

    class Source(models.TextChoices):
        EXTERNAL = "external", "External payment (API)"
        APLOS_RECEIVE = "aplos_receive", "Aplos receive"
        OPENING = "opening", "Paid before the invoice was recorded"

    invoice = models.ForeignKey(Invoice, on_delete=models.RESTRICT, related_name="offline_payments")
    amount = money_field()
    received_date = models.DateField()
    source = models.CharField(max_length=20, choices=Source.choices)
    journal_entry = models.OneToOneField(
        "receivables.JournalEntry", on_delete=models.RESTRICT, related_name="+"
    )
    # Set once when a mistaken offline payment is reversed (``invoice_offline_payment_reverse``).
    reversed_at = models.DateTimeField(null=True, blank=True)
    reversed_by = models.CharField(max_length=150, blank=True, default="")
    reversal_reason = models.TextField(blank=True, default="")
    reversal_entry = models.OneToOneField(
        "receivables.JournalEntry",
        on_delete=models.RESTRICT,
        null=True,
        blank=True,
        related_name="+",
    )

    class Meta:
        ordering = ["created_at"]
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="offline_payment_positive"),
            models.CheckConstraint(
                condition=Q(reversed_at__isnull=True, reversal_entry__isnull=True)
                | Q(reversed_at__isnull=False, reversal_entry__isnull=False),
                name="offline_payment_reversal_complete",
            ),
        ]

    @property
    def is_reversed(self) -> bool:
        return self.reversed_at is not None

    def __str__(self) -> str:
        return f"{self.amount} on {self.invoice_id}"


class ImmutableQuerySet(OrgQuerySet):
    def update(self, **kwargs):
        raise TypeError("Ledger rows are immutable; post a reversal instead.")

    def delete(self):
        raise TypeError("Ledger rows are immutable; post a reversal instead.")


class JournalEntry(OrgScopedModel):
    """A balanced double-entry posting; never changed or deleted once written."""

    class Kind(models.TextChoices):
        ISSUE = "issue", "Invoice issued"
        ISSUE_REVERSAL = "issue_reversal", "Issue reversed (changed, voided or deleted)"
        PAYMENT = "payment", "Money received"
        PAYMENT_REVERSAL = "payment_reversal", "Money received reversed"

    MONEY_KINDS = (Kind.PAYMENT, Kind.PAYMENT_REVERSAL)

    date = models.DateField()
    kind = models.CharField(max_length=20, choices=Kind.choices)
    memo = models.CharField(max_length=500, blank=True, default="")
    source = models.CharField(max_length=40, blank=True, default="")
    # SET_NULL: deleting an invoice that never moved money keeps its (reversed) entries.
    # Indexed by ``journal_entry_invoice_kind`` (invoice, kind): no index of its own.
    invoice = models.ForeignKey(
        Invoice,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="journal_entries",
        db_index=False,
    )
    reverses = models.OneToOneField(
        "self", on_delete=models.RESTRICT, null=True, blank=True, related_name="reversed_by"
    )

    objects = ImmutableQuerySet.as_manager()

    class Meta:
        ordering = ["created_at"]
        verbose_name_plural = "journal entries"
        indexes = [models.Index(fields=["invoice", "kind"], name="journal_entry_invoice_kind")]

    def __str__(self) -> str:
        return f"{self.date} {self.kind} {self.memo}"

    def save(self, *args, **kwargs):
        if not self._state.adding:
            raise TypeError("Journal entries are immutable; post a reversal instead.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise TypeError("Journal entries are immutable; post a reversal instead.")


class JournalLine(models.Model):
    id = models.BigAutoField(primary_key=True)
    organization = models.ForeignKey(
        "arpilot.Organization", on_delete=models.CASCADE, related_name="+"
    )
    entry = models.ForeignKey(JournalEntry, on_delete=models.RESTRICT, related_name="lines")
    # Indexed by ``journal_line_account_fund`` (account, fund): no index of its own.
    account = models.ForeignKey(
        Account, on_delete=models.RESTRICT, related_name="+", db_index=False
    )
    fund = models.ForeignKey(Fund, on_delete=models.RESTRICT, related_name="+")
    debit = money_field(default=ZERO)
    credit = money_field(default=ZERO)
    # The transaction currency of the line (ISO 4217; blank: the base currency, the debit or
    # credit is all there is) and the line's amount in it, signed: positive on the debit
    # side, negative on the credit side. ``debit``/``credit`` are always in the base currency.
    currency = models.CharField(max_length=3, blank=True, default="")
    amount_currency = money_field(null=True, blank=True)

    objects = ImmutableQuerySet.as_manager()

    class Meta:
        ordering = ["id"]
        indexes = [models.Index(fields=["account", "fund"], name="journal_line_account_fund")]
        constraints = [
            # A line moves base money on one side; or, in a foreign currency, only the
            # transaction amount (what a rate rounds to no cent of base money).
            models.CheckConstraint(
                condition=(Q(debit__gt=0) & Q(credit=0))
                | (Q(credit__gt=0) & Q(debit=0))
                | (Q(debit=0) & Q(credit=0) & ~Q(currency="") & ~Q(amount_currency=0)),
                name="journal_line_one_side",
            ),
            models.CheckConstraint(
                condition=(Q(currency="") & Q(amount_currency__isnull=True))
                | (~Q(currency="") & Q(amount_currency__isnull=False)),
                name="journal_line_currency_amount",
            ),
            models.CheckConstraint(
                condition=Q(amount_currency__isnull=True)
                | Q(debit=0, credit=0)
                | Q(debit__gt=0, amount_currency__gte=0)
                | Q(credit__gt=0, amount_currency__lte=0),
                name="journal_line_currency_side",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.account_id} Dr {self.debit} Cr {self.credit}"

    def save(self, *args, **kwargs):
        if not self._state.adding:
            raise TypeError("Journal lines are immutable; post a reversal instead.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise TypeError("Journal lines are immutable; post a reversal instead.")
