"""FilterSets of credits, for the API and the deductions page."""

import django_filters

from arpilot.api.filtering import FilterSet
from credits.models import Deduction


class DeductionFilterSet(FilterSet):
    status = django_filters.ChoiceFilter(choices=Deduction.Status.choices, help_text="Status")
    reason_code = django_filters.CharFilter(
        field_name="reason__code", help_text="The reason's code"
    )
    customer_id = django_filters.UUIDFilter(field_name="customer_id", help_text="The customer")
    invoice_id = django_filters.UUIDFilter(field_name="invoice_id", help_text="The invoice")

    class Meta:
        model = Deduction
        fields = ["status", "reason_code", "customer_id", "invoice_id"]
