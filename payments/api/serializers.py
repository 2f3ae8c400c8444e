import json
from decimal import Decimal

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from arpilot.api.fields import money_in, money_out
from arpilot.api.schema import BareSerializer
from arpilot.money import MILL
from payments.models import Payment, PaymentAllocation, PaymentImport
from payments.rendering import payment_data, render_payment

# --- output -------------------------------------------------------------------------------------


EXCHANGE_RATE_HELP = (
    "Applying to an invoice of another currency: how many units of the invoice's currency "
    "one unit of the payment's currency settles (e.g. 1.0825 when 100 EUR settles 108.25 "
    "USD: `amount` times `exchange_rate`, rounded half up to the invoice currency's places; the "
    "least amount that covers an invoice's open balance settles all of it). Left out, the "
    "organization's rates of the payment date (`GET /api/v1/exchange-rates`: both currencies "
    "known against the base); without either it is a 400 naming `exchange_rate`. Greater "
    "than zero, at most 10 decimal places and 15 significant digits. The invoice is settled "
    "in its currency; the money is valued in the base currency at the table's rate of the payment's currency on "
    "the payment date (else at this rate), the receivable relieved at the invoice's booked "
    "rate, and the difference posted as a realised exchange gain or loss (account 7900). "
    "Within one currency the rate is 1 (another value is a 400). Never used by auto-apply."
)


@extend_schema_field({"type": "string", "format": "decimal", "example": "1.0825"})
class ExchangeRateField(serializers.DecimalField):
    """A rate as exact decimal text (``1.0825``); the service checks its range and places."""

    def __init__(self, **kwargs):
        super().__init__(max_digits=40, decimal_places=20, **kwargs)

    def to_representation(self, value):
        return f"{Decimal(value).normalize():f}"


class AllocationSerializer(serializers.Serializer):
    """One invoice the payment is applied to. ``exchange_rate``, ``base_amount`` and
    ``exchange_difference`` are null when the payment and the invoice are both in the
    organization's base currency."""

    invoice_id = serializers.UUIDField(read_only=True)
    invoice_number = serializers.CharField(read_only=True)
    amount = money_out(
        help_text="Money of the payment applied to the invoice, in the payment's currency"
    )
    invoice_amount = money_out(
        help_text="What the allocation settled on the invoice, in the invoice's currency "
        "(`amount` converted at `exchange_rate`; equal to `amount` within one currency)"
    )
    exchange_rate = ExchangeRateField(
        read_only=True,
        allow_null=True,
        help_text="The invoice's currency per unit of the payment's the allocation was made "
        "at (1 within one foreign currency); null within the base currency",
    )
    base_amount = money_out(
        allow_null=True,
        help_text="What the money was worth in the organization's base currency on the "
        "payment date; null within the base currency",
    )
    exchange_difference = money_out(
        allow_null=True,
        help_text="The realised exchange gain (positive) or loss (negative) in the base "
        "currency: `base_amount` against the receivable relieved at the invoice's booked "
        "rate (posted to account 7900); null within the base currency",
    )
    write_off_amount = money_out(help_text="Short-payment written off on the invoice")
    applied_by = serializers.ChoiceField(
        choices=PaymentAllocation.AppliedBy.choices, read_only=True
    )


class SuggestionSerializer(serializers.Serializer):
    invoice_ids = serializers.ListField(child=serializers.UUIDField(), read_only=True)
    invoice_numbers = serializers.ListField(child=serializers.CharField(), read_only=True)
    amount = money_out(help_text="How much of the payment would be applied")
    score = serializers.FloatField(read_only=True, min_value=0, max_value=1)
    reasons = serializers.ListField(child=serializers.CharField(), read_only=True)


class PaymentSerializer(serializers.Serializer):
    """A payment. ``invoice_id`` is the invoice of its largest allocation (null when
    unapplied); ``suggestions`` are the matching engine's ranked candidates, best first."""

    id = serializers.UUIDField(read_only=True)
    amount = money_out()
    payment_date = serializers.DateField(read_only=True)
    payment_method = serializers.CharField(read_only=True)
    payer_name = serializers.CharField(read_only=True)
    payer_reference = serializers.CharField(read_only=True)
    external_payment_id = serializers.CharField(read_only=True, allow_null=True)
    notes = serializers.CharField(read_only=True)
    currency = serializers.CharField(read_only=True, allow_null=True)
    bank_account = serializers.CharField(read_only=True, allow_null=True)
    payer_account = serializers.CharField(
        read_only=True,
        allow_null=True,
        help_text="The payer's IBAN or account number (upper case, letters and digits), from "
        "the bank file or the request; null when unknown. Matching learns it from the "
        "invoices a clerk applies the payment to, like the payer's name",
    )
    status = serializers.ChoiceField(choices=Payment.Status.choices, read_only=True)
    invoice_id = serializers.UUIDField(read_only=True, allow_null=True)
    customer_id = serializers.UUIDField(
        read_only=True,
        allow_null=True,
        help_text="The customer a clerk assigned the payment to (`PATCH` with `customer_id`): "
        "its unapplied remainder is that customer's on-account credit. null when nobody "
        "assigned it (its remainder is then the credit of the one customer whose invoices it "
        "is applied to, if there is one: `GET /api/v1/customers/{id}/credit`)",
    )
    allocations = AllocationSerializer(many=True, read_only=True)
    applied_amount = money_out()
    unapplied_amount = money_out(
        help_text="What is left of the payment, neither applied nor refunded: credit to "
        "apply later (`amount` - `applied_amount` - `refunded_amount`)"
    )
    refunded_amount = money_out(
        help_text="Of the payment's remainder, paid back to the customer "
        "(`POST /api/v1/customers/{id}/credit/refund`); it can no longer be applied"
    )
    written_off_amount = money_out()
    reviewed = serializers.BooleanField(read_only=True)
    reviewed_at = serializers.DateTimeField(read_only=True, allow_null=True)
    auto_applied = serializers.BooleanField(
        read_only=True, help_text="The current application was made by matching, not a clerk"
    )
    unapplied_by_clerk = serializers.BooleanField(
        read_only=True, help_text="A clerk took money of it back (it is never auto-applied)"
    )
    source = serializers.ChoiceField(choices=Payment.Source.choices, read_only=True)
    import_id = serializers.UUIDField(read_only=True, allow_null=True)
    suggestions = SuggestionSerializer(many=True, read_only=True)
    created_at = serializers.DateTimeField(read_only=True)
    updated_at = serializers.DateTimeField(read_only=True)

    def to_representation(self, instance):
        return payment_data(instance)  # the fields' own output, written out by hand

    def field_by_field(self, instance) -> dict:
        """DRF's rendering through the declared fields: what ``payment_data`` must equal."""
        return super().to_representation(render_payment(instance))


class RejectedLineSerializer(serializers.Serializer):
    line_number = serializers.IntegerField(read_only=True)
    reason = serializers.CharField(read_only=True)
    raw = serializers.CharField(
        read_only=True, default="", help_text="The line as it stands in the file (500 chars)"
    )


class CreatedTotalSerializer(serializers.Serializer):
    currency = serializers.CharField(read_only=True)
    count = serializers.IntegerField(read_only=True)
    amount = money_out(help_text="Exact sum of the credits created in this currency")


class PaymentImportSerializer(serializers.ModelSerializer):
    format = serializers.CharField(read_only=True, help_text="csv, ofx, camt053, bai2 or mt940")
    progress = serializers.SerializerMethodField(help_text="Share of the file processed, 0 to 1")
    rejected = RejectedLineSerializer(many=True, read_only=True)
    created_totals = CreatedTotalSerializer(
        many=True,
        read_only=True,
        help_text="The credits created, per currency (count and exact sum): tie the import "
        "to the statement with these and the rejected lines",
    )
    error = serializers.CharField(read_only=True, allow_null=True)
    bank_account = serializers.CharField(read_only=True, allow_null=True)
    currency = serializers.CharField(read_only=True, allow_null=True)

    class Meta:
        model = PaymentImport
        fields = [
            "id",
            "status",
            "format",
            "filename",
            "file_size",
            "bank_account",
            "currency",
            "total",
            "processed",
            "progress",
            "created_count",
            "created_totals",
            "duplicates_count",
            "debits_skipped",
            "rejected",
            "error",
            "started_at",
            "finished_at",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields

    def get_progress(self, obj) -> float:
        if obj.status == PaymentImport.Status.DONE:
            return 1.0
        if not obj.total:
            return 0.0
        return round(obj.processed / obj.total, 4)

    def to_representation(self, instance):
        data = super().to_representation(instance)
        for name in ("error", "bank_account", "currency"):
            data[name] = data[name] or None
        return data


class MatchQueuedSerializer(BareSerializer):
    queued = serializers.BooleanField()


# --- input -------------------------------------------------------------------------------------


class PaymentCreateSerializer(serializers.Serializer):
    amount = money_in(currency_checked=True, min_value=MILL, help_text="Payment amount")
    payment_date = serializers.DateField(help_text="Date of payment")
    payment_method = serializers.CharField(
        max_length=100, required=False, allow_blank=True, help_text="Payment method"
    )
    payer_name = serializers.CharField(
        max_length=255, required=False, allow_blank=True, help_text="Name of the payer"
    )
    payer_reference = serializers.CharField(
        max_length=1000,
        required=False,
        allow_blank=True,
        help_text="External reference (remittance text)",
    )
    external_payment_id = serializers.CharField(
        max_length=255,
        required=False,
        allow_blank=True,
        help_text="External payment ID, unique per organization (409 with `existing_id`)",
    )
    notes = serializers.CharField(required=False, allow_blank=True, help_text="Internal notes")
    payer_account = serializers.CharField(
        max_length=100,
        required=False,
        allow_blank=True,
        help_text="The payer's IBAN or account number (spaces and punctuation dropped, upper "
        "case; at most 64 letters and digits). One shaped like an IBAN must pass its mod-97 "
        "check: else a 400 naming `payer_account`. A clerk's application teaches it to "
        "matching (strong evidence for that customer next time)",
    )
    currency = serializers.RegexField(
        r"^[A-Za-z]{3}$",
        required=False,
        allow_blank=True,
        help_text="ISO 4217 code (default: the organization's base currency; an unknown code is "
        "a 400 naming `currency`). The amount has at most the currency's decimal places (JPY "
        "none: more is a 400 naming `amount`, never rounded).",
    )


class AllocationInputSerializer(serializers.Serializer):
    invoice_id = serializers.UUIDField()
    amount = money_in(
        currency_checked=True,
        min_value=MILL,
        help_text="Money of the payment, in the payment's currency",
    )
    exchange_rate = ExchangeRateField(
        required=False,
        help_text="For an invoice of another currency: this allocation's rate (else the "
        "request's `exchange_rate`, else the organization's rates). " + EXCHANGE_RATE_HELP,
    )

    def validate(self, attrs):
        # A PATCH validates partially, nested items included; an allocation needs both.
        missing = {
            name: ["This field is required."]
            for name in ("invoice_id", "amount")
            if name not in attrs
        }
        if missing:
            raise serializers.ValidationError(missing)
        return attrs


class PaymentUpdateSerializer(serializers.Serializer):
    customer_id = serializers.UUIDField(
        required=False,
        allow_null=True,
        help_text="Extension: assign the payment to this customer of yours, so its unapplied "
        "remainder is that customer's on-account credit (`GET /api/v1/customers/{id}/credit`); "
        "null clears the assignment. An unknown customer, or another organization's, is a 400 "
        "naming `customer_id`. Applied before `invoice_id`/`allocations` when sent together.",
    )
    invoice_id = serializers.UUIDField(
        required=False,
        allow_null=True,
        help_text="Apply the payment to this invoice (as much as its open balance takes and "
        "the payment has, less what was refunded of it; replaces other allocations). null "
        "unapplies the payment. An invoice of another "
        "currency is settled at `exchange_rate` (or the organization's rates of the payment "
        "date; without either a 400 naming `exchange_rate`).",
    )
    exchange_rate = ExchangeRateField(required=False, help_text=EXCHANGE_RATE_HELP)
    allocations = AllocationInputSerializer(
        many=True,
        required=False,
        help_text="Extension: spread the payment over invoices (replaces the current "
        "allocations; [] unapplies). Whatever is not allocated stays as unapplied credit. "
        "The amounts total at most the payment's amount less `refunded_amount` (more is a "
        "400 naming `allocations` and the amount of the allocation that goes past it). "
        "Amounts are in the payment's currency; invoices of another currency are settled at "
        "the allocation's or the request's `exchange_rate` (or the organization's rates).",
    )
    write_off_short_payment = serializers.BooleanField(
        required=False,
        help_text="Extension (false when left out): write off what the payment's invoices still owe, when that is "
        "within the organization's write-off tolerance (default 1.00).",
    )
    deduction_reason_code = serializers.SlugField(
        max_length=50,
        required=False,
        help_text="Extension: open a deduction for what each of the payment's invoices still "
        "owes (the short pay, whatever the write-off tolerance), with this reason code (one "
        "of `GET /api/v1/deduction-reasons`); the invoices leave dunning until it is "
        "resolved. After `invoice_id`/`allocations` when sent together; the whole payment "
        "must be applied. Not with `write_off_short_payment` (400).",
    )
    deduction_note = serializers.CharField(
        max_length=5000, required=False, allow_blank=True, help_text="The deductions' note"
    )
    payer_name = serializers.CharField(max_length=255, required=False, allow_blank=True)
    payer_reference = serializers.CharField(max_length=1000, required=False, allow_blank=True)
    reviewed = serializers.BooleanField(required=False, help_text="Mark as reviewed")
    notes = serializers.CharField(required=False, allow_blank=True)

    def validate(self, attrs):
        if attrs.get("write_off_short_payment") and "deduction_reason_code" in attrs:
            raise serializers.ValidationError(
                {
                    "deduction_reason_code": [
                        "Send write_off_short_payment or deduction_reason_code, not both."
                    ]
                }
            )
        if "deduction_note" in attrs and "deduction_reason_code" not in attrs:
            raise serializers.ValidationError(
                {"deduction_note": ["Only with deduction_reason_code."]}
            )
        return attrs


IMPORT_MAX_BYTES = 50 * 1024 * 1024

CSV_MAPPING_HELP = (
    "JSON object naming the CSV columns (header name or 0-based index): date, amount, debit, "
    "credit, payer_name, reference (one or a list), transaction_id, account, currency, "
    "direction, payment_type, payer_account (the payer's IBAN or account number: read only "
    "when mapped); and date_format (strptime), decimal_separator ('.' or ','), "
    "delimiter, has_header (bool), currency_default, day_first (bool). Omitted columns are "
    "detected from the header."
)
_COLUMN_KEYS = (
    "date",
    "amount",
    "debit",
    "credit",
    "payer_name",
    "transaction_id",
    "account",
    "currency",
    "direction",
    "payment_type",
    "payer_account",
)
_TEXT_KEYS = ("date_format", "decimal_separator", "delimiter", "currency_default")
_BOOL_KEYS = ("has_header", "day_first")


def _column_ok(value) -> bool:
    return (isinstance(value, str) and 0 < len(value) <= 200) or (
        isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= 1000
    )


class PaymentImportCreateSerializer(serializers.Serializer):
    file = serializers.FileField(
        help_text="A bank file: CSV, OFX, CAMT.053, BAI2 or MT940 (at most 50 MB)"
    )
    mapping = serializers.CharField(required=False, help_text=CSV_MAPPING_HELP)

    def validate_file(self, value):
        if value.size > IMPORT_MAX_BYTES:
            raise serializers.ValidationError(
                f"The file is larger than {IMPORT_MAX_BYTES // (1024 * 1024)} MB."
            )
        return value

    def validate_mapping(self, value):
        try:
            mapping = json.loads(value)
        except (ValueError, RecursionError):
            raise serializers.ValidationError("Must be a JSON object.") from None
        if not isinstance(mapping, dict):
            raise serializers.ValidationError("Must be a JSON object.")
        clean = {}
        for key, item in mapping.items():
            if item is None:
                continue
            if key in _COLUMN_KEYS:
                ok = _column_ok(item)
            elif key == "reference":
                ok = _column_ok(item) or (
                    isinstance(item, list) and 0 < len(item) <= 20 and all(map(_column_ok, item))
                )
            elif key in _TEXT_KEYS:
                ok = isinstance(item, str) and 0 < len(item) <= 50
                if key == "decimal_separator":
                    ok = item in (".", ",")
                if key == "delimiter":
                    ok = isinstance(item, str) and len(item) == 1
            elif key in _BOOL_KEYS:
                ok = isinstance(item, bool)
            else:
                raise serializers.ValidationError(f"Unknown mapping key {key!r}.")
            if not ok:
                raise serializers.ValidationError(f"Invalid value for {key!r}.")
            clean[key] = item
        return clean or None
