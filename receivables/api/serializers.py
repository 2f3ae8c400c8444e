from decimal import Decimal

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from arpilot.api.fields import MoneyField, money_in, money_out
from arpilot.api.schema import BareSerializer
from arpilot.money import MILL
from receivables import selectors
from receivables.models import Account, Fund, Invoice, InvoiceOfflinePayment
from receivables.rendering import render_invoice
from receivables.services import LineSpec, default_account, default_fund
from receivables.statements import STATEMENT_LINE_TYPES
from receivables.views import AGING_BUCKETS


def money(**kwargs) -> MoneyField:
    """An invoice amount: the service checks it against the invoice currency's places."""
    return money_in(currency_checked=True, min_value=Decimal("0"), **kwargs)


# --- output -----------------------------------------------------------------------------


class AccountRefSerializer(serializers.Serializer):
    id = serializers.UUIDField(read_only=True)
    account_number = serializers.IntegerField(read_only=True)
    name = serializers.CharField(read_only=True)


class FundRefSerializer(serializers.Serializer):
    id = serializers.IntegerField(read_only=True)
    name = serializers.CharField(read_only=True)


class InvoiceLineSerializer(serializers.Serializer):
    id = serializers.IntegerField(read_only=True)
    amount = money_out()
    note = serializers.CharField(read_only=True)
    account = AccountRefSerializer(read_only=True)
    fund = FundRefSerializer(read_only=True)


class OfflinePaymentSerializer(serializers.Serializer):
    id = serializers.UUIDField(read_only=True)
    amount = money_out()
    date = serializers.DateField(read_only=True, help_text="Date received")
    source = serializers.ChoiceField(choices=InvoiceOfflinePayment.Source.choices, read_only=True)
    reversed_at = serializers.DateTimeField(
        read_only=True, allow_null=True, help_text="Set when the payment was reversed"
    )
    reversed_by = serializers.CharField(read_only=True, allow_null=True)
    reason = serializers.CharField(
        read_only=True, allow_null=True, help_text="Why the payment was reversed"
    )


# An inline nullable object, not a nullable reference to a component: OpenAPI 3.0 can only
# say the latter as `allOf` + `nullable`, which generated clients (openapi-python-client)
# read as never null.
@extend_schema_field(
    {
        "type": "object",
        "nullable": True,
        "readOnly": True,
        "description": "The open dispute (`POST /invoices/{id}/dispute`); null when there is none",
        "properties": {
            "id": {"type": "string", "format": "uuid"},
            "reason_code": {"type": "string"},
            "reason": {"type": "string", "description": "The reason's label"},
            "note": {"type": "string"},
            "opened_at": {"type": "string", "format": "date-time"},
        },
        "required": ["id", "reason_code", "reason", "note", "opened_at"],
    }
)
class InvoiceDisputeField(serializers.Field):
    """The invoice's open dispute (rendered by the view, through collections' hook)."""

    def to_representation(self, value):
        return value


@extend_schema_field({"type": "string", "format": "decimal", "example": "1.0825"})
class RateField(serializers.DecimalField):
    """A rate as exact decimal text, without the storage's trailing zeros (``1.0825``)."""

    def __init__(self, **kwargs):
        super().__init__(max_digits=40, decimal_places=20, **kwargs)

    def to_representation(self, value):
        return f"{Decimal(value).normalize():f}"


INVOICE_RATE_HELP = (
    "What one unit of the invoice's `currency` is worth in the organization's base currency "
    "(e.g. 1.0825 USD per EUR), the rate the receivable is booked at: its journal lines are "
    "in the base currency at this rate. Left out, the organization's rate of the issue date "
    "(the latest on or before it, `GET /api/v1/exchange-rates`); an invoice in another "
    "currency without either is a 400 naming `exchange_rate`. Greater than zero, at most 10 "
    "decimal places and 15 significant digits (never rounded). Fixed once the invoice is issued (a draft takes it at "
    "issue), except with a new `currency` before money is received. Not for an invoice in "
    "the base currency (its rate is 1)."
)


class InvoiceSerializer(serializers.Serializer):
    """An invoice. ``customer_name``/``customer_address`` are the rendered values: the
    invoice's override, or else the customer's. ``status`` is derived from the money and the
    due date (in the customer's timezone)."""

    id = serializers.UUIDField(read_only=True)
    invoice_number = serializers.CharField(read_only=True)
    customer_id = serializers.UUIDField(read_only=True)
    customer_name = serializers.CharField(read_only=True)
    customer_address = serializers.CharField(read_only=True)
    currency = serializers.CharField(
        read_only=True, help_text="ISO 4217 code: the currency of every amount of the invoice"
    )
    exchange_rate = RateField(
        read_only=True,
        allow_null=True,
        help_text="Base currency per unit of `currency`, the rate the receivable is booked at "
        "(exact decimal text); null for an invoice in the base currency",
    )
    amount = money_out()
    amount_due = money_out(help_text="Open balance")
    amount_paid = money_out(help_text="amount minus amount_due")
    issue_date = serializers.DateField(read_only=True)
    due_date = serializers.DateField(read_only=True)
    status = serializers.ChoiceField(choices=Invoice.Status.choices, read_only=True)
    notes = serializers.CharField(read_only=True)
    ar_account = AccountRefSerializer(read_only=True, help_text="The receivable account")
    lines = InvoiceLineSerializer(many=True, read_only=True)
    offline_payments = OfflinePaymentSerializer(
        many=True,
        read_only=True,
        help_text="Money recorded as received outside ARPilot, oldest first (reversed ones too)",
    )
    created_at = serializers.DateTimeField(read_only=True)
    updated_at = serializers.DateTimeField(read_only=True)
    # Added by the view from collections (``arpilot.hooks.InvoicesDescribed``), not here.
    dispute = InvoiceDisputeField(read_only=True, allow_null=True)

    def to_representation(self, instance):
        return render_invoice(instance)


class AccountSerializer(serializers.ModelSerializer):
    role = serializers.ChoiceField(
        choices=Account.Role.choices,
        allow_null=True,
        read_only=True,
        help_text="Set on the accounts ARPilot posts to by default",
    )

    class Meta:
        model = Account
        fields = ["id", "account_number", "name", "type", "role", "created_at", "updated_at"]
        read_only_fields = fields


class FundSerializer(serializers.ModelSerializer):
    class Meta:
        model = Fund
        fields = ["id", "name", "is_default", "created_at", "updated_at"]
        read_only_fields = fields


# --- input ------------------------------------------------------------------------------


class InvoiceLineInputSerializer(serializers.Serializer):
    id = serializers.IntegerField(
        required=False, help_text="On update: the line to change (omit to add or reuse)"
    )
    amount = money_in(currency_checked=True, min_value=MILL)
    note = serializers.CharField(
        max_length=500, required=False, allow_blank=True, help_text="Empty when left out"
    )
    account_id = serializers.UUIDField(required=False, help_text="GL account (or account_number)")
    account_number = serializers.IntegerField(
        required=False, min_value=0, max_value=2147483647, help_text="GL account number"
    )
    fund_id = serializers.IntegerField(
        required=False, min_value=1, max_value=2**63 - 1, help_text="Fund (default: General Fund)"
    )

    def validate(self, attrs):
        if "amount" not in attrs:  # the update serializer validates partially
            raise serializers.ValidationError({"amount": ["This field is required."]})
        organization = self.context["organization"]
        accounts = Account.objects.for_org(organization)
        if "account_id" in attrs:
            account = accounts.filter(pk=attrs["account_id"]).first()
            if account is None:
                raise serializers.ValidationError({"account_id": ["Unknown account."]})
        elif "account_number" in attrs:
            account = accounts.filter(account_number=attrs["account_number"]).first()
            if account is None:
                raise serializers.ValidationError(
                    {"account_number": [f"Unknown account number {attrs['account_number']}."]}
                )
        else:
            account = default_account(organization, Account.Role.REVENUE)
        if "fund_id" in attrs:
            fund = Fund.objects.for_org(organization).filter(pk=attrs["fund_id"]).first()
            if fund is None:
                raise serializers.ValidationError(
                    {"fund_id": [f"Unknown fund {attrs['fund_id']}."]}
                )
        else:
            fund = default_fund(organization)
        return LineSpec(
            amount=attrs["amount"],
            note=attrs.get("note", ""),
            account=account,
            fund=fund,
            id=attrs.get("id"),
        )


class CustomerIdField(serializers.UUIDField):
    """A customer UUID of the caller's organization, resolved to the Customer."""

    def to_internal_value(self, data):
        pk = super().to_internal_value(data)
        customer = selectors.customer_with_contact(organization=self.context["organization"], pk=pk)
        if customer is None:
            raise serializers.ValidationError("Unknown customer.")
        return customer


STATUS_HELP = (
    "Derived from the money and dates; an explicit value must agree with them (400 "
    "otherwise). `draft` creates an unissued invoice; `pending` means open (it issues a "
    "draft); `paid` needs amount_due 0; `void` voids (409 once money was received)."
)


@extend_schema_field({"type": "string", "format": "uuid"})
class _CustomerIdSchema(CustomerIdField):
    pass


CURRENCY_HELP = (
    "ISO 4217 code (default: the organization's base currency). Every amount has at most "
    "the currency's decimal places (JPY none, USD two; more is a 400 naming the field, never "
    "rounded); an unknown code is a 400 naming `currency`."
)


def currency_input(**kwargs) -> serializers.CharField:
    """A currency code; the service checks it (``arpilot.currencies.currency_validate``)."""
    return serializers.CharField(max_length=3, required=False, **kwargs)


class InvoiceCreateSerializer(serializers.Serializer):
    invoice_number = serializers.CharField(max_length=100, help_text="Unique invoice number")
    customer_id = _CustomerIdSchema(help_text="UUID of an existing customer in your account")
    currency = currency_input(help_text=CURRENCY_HELP)
    exchange_rate = RateField(required=False, help_text=INVOICE_RATE_HELP)
    amount = money(
        required=False, help_text="Total invoice amount (required unless lines are given)"
    )
    due_date = serializers.DateField(help_text="Payment due date")
    customer_name = serializers.CharField(
        max_length=255, required=False, allow_blank=True, help_text="Override customer name"
    )
    customer_address = serializers.CharField(
        required=False, allow_blank=True, help_text="Override address"
    )
    amount_due = money(
        required=False,
        help_text="Remaining balance (defaults to amount; less records the difference as paid)",
    )
    issue_date = serializers.DateField(required=False, help_text="Issue date (defaults to today)")
    status = serializers.ChoiceField(
        choices=Invoice.Status.choices, required=False, help_text=STATUS_HELP
    )
    notes = serializers.CharField(required=False, allow_blank=True, help_text="Internal notes")
    lines = InvoiceLineInputSerializer(
        many=True,
        required=False,
        allow_empty=False,
        help_text="Invoice lines; amount must equal their sum. Default: one revenue line.",
    )


class InvoiceUpdateSerializer(serializers.Serializer):
    invoice_number = serializers.CharField(max_length=100, required=False)
    customer_id = _CustomerIdSchema(
        required=False, help_text="Move the invoice to another customer (no money received yet)"
    )
    customer_name = serializers.CharField(
        max_length=255, required=False, allow_blank=True, help_text="Customer display name"
    )
    customer_address = serializers.CharField(
        required=False, allow_blank=True, help_text="Customer billing address"
    )
    currency = currency_input(
        help_text="ISO 4217 code (no money received yet); the invoice's amounts must fit its "
        "decimal places"
    )
    exchange_rate = RateField(required=False, help_text=INVOICE_RATE_HELP)
    amount = money(required=False, help_text="Total amount (no money received yet)")
    amount_due = money(
        required=False,
        help_text="Remaining balance: lowering it records the difference as paid offline",
    )
    issue_date = serializers.DateField(required=False)
    due_date = serializers.DateField(required=False, help_text="Due date")
    status = serializers.ChoiceField(
        choices=Invoice.Status.choices, required=False, help_text=STATUS_HELP
    )
    notes = serializers.CharField(required=False, allow_blank=True, help_text="Internal notes")
    external_payment_amount = money(
        required=False,
        help_text=(
            "Amount paid via external/offline methods: recorded as its own payment, lowers "
            "amount_due, cannot exceed it"
        ),
    )
    lines = InvoiceLineInputSerializer(
        many=True, required=False, allow_empty=False, help_text="Replaces all lines"
    )


class OfflinePaymentReverseSerializer(serializers.Serializer):
    reason = serializers.CharField(
        max_length=2000, help_text="Why the offline payment is reversed (required)"
    )


class AccountCreateSerializer(serializers.Serializer):
    account_number = serializers.IntegerField(min_value=0, max_value=2147483647)
    name = serializers.CharField(max_length=200)
    type = serializers.ChoiceField(choices=Account.Type.choices)


class AccountUpdateSerializer(serializers.Serializer):
    account_number = serializers.IntegerField(min_value=0, max_value=2147483647, required=False)
    name = serializers.CharField(max_length=200, required=False)
    type = serializers.ChoiceField(choices=Account.Type.choices, required=False)


class FundCreateSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=200)


class FundUpdateSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=200, required=False)


# --- customer statements --------------------------------------------------------------------


class StatementCustomerSerializer(serializers.Serializer):
    id = serializers.UUIDField(source="pk", read_only=True)
    company_name = serializers.CharField(read_only=True)
    customer_id = serializers.CharField(
        source="external_id",
        read_only=True,
        help_text="The organization's own customer ID (empty when it has none)",
    )
    address = serializers.CharField(read_only=True)


class StatementLineSerializer(serializers.Serializer):
    date = serializers.DateField(read_only=True, help_text="The date of the ledger entry")
    type = serializers.ChoiceField(
        choices=[(value, value) for value in STATEMENT_LINE_TYPES],
        read_only=True,
        help_text="`invoice` (issued), `invoice_reversal` (changed, voided or deleted), "
        "`payment` / `payment_reversal` (a payment applied / unapplied), `write_off` / "
        "`write_off_reversal` (a short-payment written off / reversed), `offline_payment` / "
        "`offline_payment_reversal` (money received outside ARPilot / reversed), "
        "`credit_note` / `credit_note_void` (a credit note posted / voided)",
    )
    description = serializers.CharField(read_only=True)
    memo = serializers.CharField(read_only=True)
    invoice_id = serializers.UUIDField(
        read_only=True, allow_null=True, help_text="null: a credit note against no invoice"
    )
    invoice_number = serializers.CharField(read_only=True)
    credit_note_id = serializers.UUIDField(
        read_only=True, allow_null=True, help_text="A credit note's line: the note; else null"
    )
    credit_note_number = serializers.CharField(read_only=True, help_text="Empty when none")
    journal_entry_id = serializers.UUIDField(source="entry_id", read_only=True)
    charge = money_out(help_text="What the line adds to the balance (0 when none)")
    credit = money_out(help_text="What the line takes off the balance (0 when none)")
    balance = money_out(help_text="The running balance after the line")


class StatementAgingSerializer(serializers.Serializer):
    key = serializers.CharField(
        read_only=True,
        help_text="One of " + ", ".join(f"`{key}`" for key, *_ in AGING_BUCKETS) + ", or "
        "`credit_notes` (what posted credit notes have not been applied yet, negative; only "
        "when some remains)",
    )
    label = serializers.CharField(read_only=True)
    count = serializers.IntegerField(read_only=True, help_text="Invoices with a balance here")
    total = money_out(help_text="Their balances on `to`")


class StatementCreditNoteApplicationSerializer(serializers.Serializer):
    date = serializers.DateField(read_only=True)
    invoice_id = serializers.UUIDField(read_only=True)
    invoice_number = serializers.CharField(read_only=True)
    amount = money_out()
    unapplied_on = serializers.DateField(
        read_only=True, allow_null=True, help_text="When it was taken back (null: it stands)"
    )


class StatementCreditNoteSerializer(serializers.Serializer):
    id = serializers.UUIDField(read_only=True)
    number = serializers.CharField(read_only=True)
    date = serializers.DateField(read_only=True, help_text="Posted")
    memo = serializers.CharField(read_only=True)
    invoice_id = serializers.UUIDField(
        read_only=True, allow_null=True, help_text="The invoice it is against, if any"
    )
    invoice_number = serializers.CharField(read_only=True)
    status = serializers.CharField(read_only=True, help_text="On `to`: `posted` or `void`")
    voided_on = serializers.DateField(read_only=True, allow_null=True)
    amount = money_out()
    applied = money_out(help_text="Applied to invoices on `to`")
    remaining = money_out(help_text="Left to apply on `to` (0 once void)")
    applications = StatementCreditNoteApplicationSerializer(many=True, read_only=True)


class StatementInCurrencySerializer(serializers.Serializer):
    """The statement's figures in one more currency of the customer's invoices."""

    currency = serializers.CharField(read_only=True, help_text="ISO 4217: the amounts' currency")
    opening_balance = money_out(help_text="The balance at the start of `from`")
    total_charges = money_out(help_text="The sum of the lines' `charge`")
    total_credits = money_out(help_text="The sum of the lines' `credit`")
    closing_balance = money_out(help_text="The balance at the end of `to`")
    lines = StatementLineSerializer(many=True, read_only=True)
    aging = StatementAgingSerializer(many=True, read_only=True)
    credit_notes = StatementCreditNoteSerializer(many=True, read_only=True)
    unapplied_credits = money_out(help_text="What the credit notes hold on `to`")


# ``from`` is a Python keyword: the fields are given by name.
StatementSerializer = type(
    "StatementSerializer",
    (serializers.Serializer,),
    {
        "__module__": __name__,
        "customer": StatementCustomerSerializer(read_only=True),
        "currency": serializers.CharField(
            read_only=True,
            help_text="The currency of the amounts (ISO 4217): the organization's, or the "
            "customer's one currency when its invoices are all in another. Amounts are never "
            "converted: invoices in other currencies are in `other_currencies`",
        ),
        "from": serializers.DateField(source="date_from", read_only=True),
        "to": serializers.DateField(source="date_to", read_only=True),
        "opening_balance": money_out(help_text="The balance at the start of `from`"),
        "total_charges": money_out(help_text="The sum of the lines' `charge`"),
        "total_credits": money_out(help_text="The sum of the lines' `credit`"),
        "closing_balance": money_out(
            help_text="The balance at the end of `to`: opening + charges - credits"
        ),
        "lines": StatementLineSerializer(many=True, read_only=True),
        "credit_notes": StatementCreditNoteSerializer(
            many=True,
            read_only=True,
            help_text="The customer's credit notes in this currency posted by `to` that were "
            "active in the period or still hold something, with their applications",
        ),
        "unapplied_credits": money_out(
            help_text="What those credit notes have not been applied yet on `to`"
        ),
        "aging": StatementAgingSerializer(
            many=True,
            read_only=True,
            help_text="The open invoices' balances on `to` by days past due on `to`; they "
            "add up to `closing_balance`",
        ),
        "other_currencies": StatementInCurrencySerializer(
            source="others",
            many=True,
            read_only=True,
            help_text="The same statement for the customer's invoices in each other currency "
            "(amounts in that currency; empty when it has one)",
        ),
    },
)


# --- sending statements ---------------------------------------------------------------------

MAX_STATEMENT_CUSTOMER_IDS = 1000

# ``from`` is a Python keyword: the fields are given by name.
StatementSendSerializer = type(
    "StatementSendSerializer",
    (serializers.Serializer,),
    {
        "__module__": __name__,
        "from": serializers.DateField(
            required=False,
            help_text="First day of the period (YYYY-MM-DD); default: 90 days before `to`",
        ),
        "to": serializers.DateField(
            required=False,
            help_text="Last day of the period (YYYY-MM-DD); default: today in the "
            "organization's timezone",
        ),
    },
)


class StatementsSendSerializer(serializers.Serializer):
    customer_ids = serializers.ListField(
        child=serializers.UUIDField(),
        required=False,
        allow_empty=False,
        max_length=MAX_STATEMENT_CUSTOMER_IDS,
        help_text="The customers whose statements to send (at most "
        f"{MAX_STATEMENT_CUSTOMER_IDS}); leave it out to send every customer with an open "
        "balance theirs",
    )


class StatementSentSerializer(BareSerializer):
    queued = serializers.IntegerField(read_only=True, help_text="Always 1: the email is queued")
    email_id = serializers.UUIDField(read_only=True, help_text="The email in the outbox")
    to = serializers.ListField(
        child=serializers.EmailField(), read_only=True, help_text="Its recipients"
    )


class StatementsQueuedSerializer(BareSerializer):
    queued = serializers.IntegerField(
        read_only=True, help_text="Customers whose statements are queued for sending"
    )
    skipped_no_email = serializers.IntegerField(
        read_only=True,
        help_text="Customers selected but skipped: no primary or escalation-level-1 contact "
        "with an email address",
    )


# --- exchange rates ---------------------------------------------------------------------------

RATE_HELP = (
    "What one unit of `currency` is worth in the organization's base currency (e.g. 1.0825 "
    "USD per EUR): greater than zero, at most 10 digits before the point and 10 after and "
    "15 significant digits in all, kept exactly (more is a 400 naming `rate`, never rounded). Send it as a string to be "
    "sure no client rounds it on the way."
)


class ExchangeRateSerializer(serializers.Serializer):
    id = serializers.UUIDField(read_only=True)
    currency = serializers.CharField(read_only=True, help_text="ISO 4217 code")
    date = serializers.DateField(
        read_only=True, help_text="The rate holds from this date until the next one"
    )
    rate = RateField(read_only=True, help_text="Base currency per unit of `currency`")
    created_at = serializers.DateTimeField(read_only=True)
    updated_at = serializers.DateTimeField(
        read_only=True, help_text="Changes when the same currency and date is posted again"
    )


class ExchangeRateCreateSerializer(serializers.Serializer):
    currency = serializers.CharField(
        max_length=3,
        help_text="ISO 4217 code, not the base currency (400 naming `currency` otherwise)",
    )
    rate = RateField(help_text=RATE_HELP)
    date = serializers.DateField(help_text="From this date on (YYYY-MM-DD)")


class ExchangeRateImportSerializer(serializers.Serializer):
    file = serializers.FileField(
        help_text="A UTF-8 CSV file: the header `currency,date,rate`, then one rate a line "
        "(at most 5 MB and 50,000 rates)"
    )


class ExchangeRateImportedSerializer(serializers.Serializer):
    created = serializers.IntegerField(read_only=True, help_text="Rates new to the table")
    replaced = serializers.IntegerField(
        read_only=True, help_text="Rates of a currency and date already recorded, replaced"
    )
