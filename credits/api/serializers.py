from rest_framework import serializers

from arpilot.api.fields import MoneyField
from credits.models import Deduction
from credits.rendering import render_deduction, render_reason


def _money(**kwargs) -> MoneyField:
    """An amount: sent exactly; in a request, two places."""
    return MoneyField(places=3 if kwargs.get("read_only") else 2, **kwargs)


# --- reasons ----------------------------------------------------------------------------------
class ReasonSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    code = serializers.CharField()
    name = serializers.CharField()
    account_number = serializers.IntegerField(
        help_text="The GL account a `write_off` resolution posts to"
    )
    account_name = serializers.CharField()
    is_active = serializers.BooleanField(help_text="Only an active reason opens deductions")

    def to_representation(self, reason):
        return render_reason(reason)


class ReasonCreateInput(serializers.Serializer):
    code = serializers.SlugField(max_length=50, help_text="Unique in the organization")
    name = serializers.CharField(max_length=200)
    account_number = serializers.IntegerField(
        min_value=1,
        max_value=2147483647,
        help_text="One of the organization's income (contra-revenue) or expense accounts",
    )


class ReasonUpdateInput(ReasonCreateInput):
    code = serializers.SlugField(max_length=50, required=False)
    name = serializers.CharField(max_length=200, required=False)
    account_number = serializers.IntegerField(
        min_value=1,
        max_value=2147483647,
        required=False,
        help_text="One of the organization's income (contra-revenue) or expense accounts",
    )
    is_active = serializers.BooleanField(required=False)


# --- deductions -------------------------------------------------------------------------------
class DeductionSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    invoice_id = serializers.UUIDField()
    invoice_number = serializers.CharField()
    customer_id = serializers.UUIDField()
    payment_id = serializers.UUIDField(
        allow_null=True, help_text="The payment whose short pay opened it"
    )
    amount = _money(read_only=True)
    reason_code = serializers.CharField()
    reason = serializers.CharField()
    note = serializers.CharField()
    status = serializers.ChoiceField(choices=Deduction.Status.choices)
    resolution = serializers.ChoiceField(choices=Deduction.Resolution.choices, allow_null=True)
    resolution_note = serializers.CharField()
    resolution_amount = _money(
        read_only=True,
        allow_null=True,
        help_text="What a `write_off`, `credit_note` or `rebill` took off the invoice; null "
        "otherwise",
    )
    journal_entry_id = serializers.UUIDField(allow_null=True)
    accounting_change_id = serializers.UUIDField(
        allow_null=True, help_text="The accounting change it recorded (pending approval)"
    )
    rebill_invoice_id = serializers.UUIDField(
        allow_null=True, help_text="`rebill`: the new invoice"
    )
    resolved_at = serializers.DateTimeField(allow_null=True)
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()

    def to_representation(self, deduction):
        return render_deduction(deduction)


class DeductionUpdateInput(serializers.Serializer):
    note = serializers.CharField(max_length=5000, required=False, allow_blank=True)
    reason_code = serializers.SlugField(
        max_length=50, required=False, help_text="An active code of the organization's list"
    )


class DeductionResolveInput(serializers.Serializer):
    resolution = serializers.ChoiceField(
        choices=Deduction.Resolution.choices,
        help_text="`write_off` (to the reason's account), `credit_note`, `rebill` (credited "
        "here and billed as a new invoice) or `collected` (nothing moves)",
    )
    note = serializers.CharField(max_length=5000, required=False, allow_blank=True, default="")


class AgingRowSerializer(serializers.Serializer):
    reason_code = serializers.CharField(allow_null=True, help_text="null on the total row")
    reason = serializers.CharField()
    count = serializers.IntegerField()
    days_0_30 = _money(read_only=True)
    days_31_60 = _money(read_only=True)
    days_61_90 = _money(read_only=True)
    days_over_90 = _money(read_only=True)
    total = _money(read_only=True)

    def to_representation(self, row):
        return row.as_dict()
