"""Credit notes over the API: the representation, and the inputs of create, change, apply
and unapply (accounts, funds and the customer resolved within the caller's organization)."""

from decimal import Decimal

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from arpilot.api.fields import money_in, money_out
from arpilot.money import MILL
from credits.models import CreditNote
from credits.services.credit_notes import LineInput, render_credit_note
from customers.models import Customer
from receivables.models import Account, Fund

MONEY_HELP = (
    "At most the currency's decimal places (JPY none, USD two; more is a 400 naming the "
    "field, never rounded)"
)


RATE_HELP = (
    "What one unit of the note's `currency` is worth in the organization's base currency "
    "(e.g. 1.0825 USD per EUR), the rate the note is booked at: its journal lines are in the "
    "base currency at this rate. Left out, the rate of the invoice it is against, else the "
    "organization's rate of the issue date (`GET /api/v1/exchange-rates`); posting a note in "
    "another currency without any is a 400 naming `exchange_rate`. Greater than zero, at "
    "most 10 decimal places. Not for a note in the base currency (its rate is 1)."
)


@extend_schema_field({"type": "string", "format": "decimal", "example": "1.0825"})
class _RateInput(serializers.DecimalField):
    def __init__(self, **kwargs):
        super().__init__(max_digits=40, decimal_places=20, **kwargs)


def _money_in(**kwargs):
    kwargs.setdefault("help_text", MONEY_HELP)
    return money_in(currency_checked=True, min_value=MILL, **kwargs)


# --- output -----------------------------------------------------------------------------------


class _AccountRef(serializers.Serializer):
    id = serializers.UUIDField()
    account_number = serializers.IntegerField()
    name = serializers.CharField()


class _FundRef(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()


class CreditNoteLineSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    amount = money_out()
    description = serializers.CharField()
    account = _AccountRef(help_text="The account the line debits (revenue or contra-revenue)")
    fund = _FundRef()


class CreditNoteAllocationSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    invoice_id = serializers.UUIDField()
    invoice_number = serializers.CharField()
    amount = money_out()
    created_at = serializers.DateTimeField()
    created_by = serializers.CharField(help_text="Who applied it (the API key's name)")
    unapplied_at = serializers.DateTimeField(
        allow_null=True, help_text="Set when it was unapplied (the row is kept); null while applied"
    )
    unapplied_by = serializers.CharField(allow_null=True)


class CreditNoteSerializer(serializers.Serializer):
    """A credit note: `amount` is the sum of its lines; `amount_remaining` what is left to
    apply once posted (0 while a draft or void)."""

    id = serializers.UUIDField()
    number = serializers.CharField()
    customer_id = serializers.UUIDField()
    customer_name = serializers.CharField()
    currency = serializers.CharField(help_text="ISO 4217 code of every amount of the note")
    exchange_rate = serializers.CharField(
        allow_null=True,
        help_text="Base currency per unit the note is booked at (decimal text); null in the "
        "base currency (and for a draft given none)",
    )
    issue_date = serializers.DateField()
    invoice_id = serializers.UUIDField(
        allow_null=True, help_text="The invoice it is against (same customer and currency)"
    )
    invoice_number = serializers.CharField(allow_null=True)
    memo = serializers.CharField()
    status = serializers.ChoiceField(choices=CreditNote.Status.choices)
    amount = money_out()
    amount_applied = money_out(help_text="Applied to invoices (not unapplied)")
    amount_remaining = money_out(help_text="Left to apply")
    ar_account = _AccountRef(help_text="The receivable account it credits")
    journal_entry_id = serializers.UUIDField(
        allow_null=True, help_text="The posting (null while a draft)"
    )
    lines = CreditNoteLineSerializer(many=True)
    allocations = CreditNoteAllocationSerializer(
        many=True, help_text="Applications to invoices, oldest first (unapplied ones too)"
    )
    posted_at = serializers.DateTimeField(allow_null=True)
    voided_at = serializers.DateTimeField(allow_null=True)
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()

    def to_representation(self, note):
        return render_credit_note(note)


# --- input ------------------------------------------------------------------------------------


class CreditNoteLineInput(serializers.Serializer):
    amount = _money_in()
    description = serializers.CharField(
        max_length=500, required=False, allow_blank=True, default=""
    )
    account_id = serializers.UUIDField(
        required=False, help_text="GL account (or account_number; default 4900 Sales credits)"
    )
    account_number = serializers.IntegerField(
        required=False, min_value=0, max_value=2147483647, help_text="GL account number"
    )
    fund_id = serializers.IntegerField(
        required=False, min_value=1, max_value=2**63 - 1, help_text="Fund (default: General Fund)"
    )

    def validate(self, attrs):
        if "amount" not in attrs:  # a PATCH is partial, but not each of its new lines
            raise serializers.ValidationError({"amount": ["This field is required."]})
        organization = self.context["organization"]
        accounts = Account.objects.for_org(organization)
        account = None
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
        fund = None
        if "fund_id" in attrs:
            fund = Fund.objects.for_org(organization).filter(pk=attrs["fund_id"]).first()
            if fund is None:
                raise serializers.ValidationError(
                    {"fund_id": [f"Unknown fund {attrs['fund_id']}."]}
                )
        return LineInput(
            amount=attrs["amount"],
            account=account,
            fund=fund,
            description=attrs.get("description", ""),
        )


@extend_schema_field({"type": "string", "format": "uuid"})
class _CustomerId(serializers.UUIDField):
    def to_internal_value(self, data):
        pk = super().to_internal_value(data)
        customer = Customer.objects.for_org(self.context["organization"]).filter(pk=pk).first()
        if customer is None:
            raise serializers.ValidationError("Unknown customer.")
        return customer


class _ArAccountNumber(serializers.IntegerField):
    """An account number, answered as the organization's account (after the number's own
    validators: they compare numbers, not accounts)."""

    def run_validation(self, data=serializers.empty):
        number = super().run_validation(data)
        if number is None:
            return None
        account = (
            Account.objects.for_org(self.context["organization"])
            .filter(account_number=number)
            .first()
        )
        if account is None:
            raise serializers.ValidationError(f"Unknown account number {number}.")
        return account


class CreditNoteCreateInput(serializers.Serializer):
    customer_id = _CustomerId(help_text="UUID of a customer of your organization")
    number = serializers.CharField(
        max_length=100,
        required=False,
        help_text="Unique in the organization (409 when taken); default `CN-<n>`, the next free",
    )
    currency = serializers.CharField(
        max_length=3,
        required=False,
        help_text="ISO 4217 (default the organization's base currency); 400 naming it otherwise",
    )
    exchange_rate = _RateInput(required=False, min_value=Decimal("0"), help_text=RATE_HELP)
    issue_date = serializers.DateField(required=False, help_text="Default today")
    invoice_id = serializers.UUIDField(
        required=False,
        allow_null=True,
        help_text="The invoice it is against: the customer's, in the note's currency (a "
        "reference; apply it with `POST …/apply`)",
    )
    memo = serializers.CharField(max_length=5000, required=False, allow_blank=True, default="")
    amount = _money_in(
        required=False,
        help_text="One line of this amount to 4900 Sales credits (or the sum of `lines`, when "
        "both are sent). " + MONEY_HELP,
    )
    lines = CreditNoteLineInput(many=True, required=False, allow_empty=False)
    ar_account_number = _ArAccountNumber(
        required=False,
        min_value=0,
        max_value=2147483647,
        help_text="The receivable account it credits (default 1100); an asset account",
    )
    status = serializers.ChoiceField(
        choices=[CreditNote.Status.DRAFT, CreditNote.Status.POSTED],
        required=False,
        default=CreditNote.Status.DRAFT,
        help_text="`draft` (default) or `posted` (posted to the ledger at once)",
    )


class CreditNoteUpdateInput(CreditNoteCreateInput):
    customer_id = _CustomerId(required=False, help_text="A draft's customer")
    status = serializers.ChoiceField(
        choices=[CreditNote.Status.POSTED, CreditNote.Status.VOID],
        required=False,
        help_text="`posted` posts a draft; `void` voids a draft, or a posted note with nothing "
        "applied (409 otherwise)",
    )
    memo = serializers.CharField(max_length=5000, required=False, allow_blank=True)


class CreditNoteAllocationInput(serializers.Serializer):
    invoice_id = serializers.UUIDField(
        help_text="An open invoice of the note's customer, in its currency"
    )
    amount = _money_in(help_text="Above zero, at most the invoice's amount due. " + MONEY_HELP)


class CreditNoteApplyInput(serializers.Serializer):
    allocations = CreditNoteAllocationInput(
        many=True,
        allow_empty=False,
        help_text="All applied or none; together at most the note's `amount_remaining`",
    )


class CreditNoteUnapplyInput(serializers.Serializer):
    allocation_ids = serializers.ListField(
        child=serializers.UUIDField(),
        allow_empty=False,
        max_length=1000,
        help_text="Applied allocations of this note (all unapplied, or none)",
    )
