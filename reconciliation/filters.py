"""FilterSets of reconciliation, shared by the API and the admin."""

import django_filters
from django import forms

from arpilot.api.filtering import FilterSet
from reconciliation.models import AccountingChange

ANY_STATUS = "any"
DEFAULT_STATUS = AccountingChange.Status.APPROVED


class IntegerFilter(django_filters.NumberFilter):
    field_class = forms.IntegerField


class AccountingChangeFilterSet(FilterSet):
    change_type = django_filters.ChoiceFilter(
        choices=AccountingChange.ChangeType.choices, help_text="Filter by change type"
    )
    invoice_id = django_filters.UUIDFilter(field_name="invoice_id", help_text="Invoice UUID")
    customer_id = django_filters.UUIDFilter(field_name="customer_id", help_text="Customer UUID")
    payment_id = django_filters.UUIDFilter(field_name="payment_id", help_text="Payment UUID")
    status = django_filters.ChoiceFilter(
        choices=[*AccountingChange.Status.choices, (ANY_STATUS, "Any status")],
        method="filter_status",
        help_text="Filter by status; `approved` (the changes waiting to be synced) when absent, "
        "`any` for every status",
    )
    sequence_after = IntegerFilter(
        field_name="approval_sequence",
        lookup_expr="gt",
        min_value=0,
        help_text="The pull cursor: only changes approved after the one whose "
        "`approval_sequence` is this (pass the largest `approval_sequence` you have seen). "
        "Approval order, not creation order, so a change approved late is never skipped.",
    )

    class Meta:
        model = AccountingChange
        fields = []

    def filter_status(self, queryset, name, value):
        if value == ANY_STATUS:
            return queryset
        return queryset.filter(status=value)

    def filter_queryset(self, queryset):
        queryset = super().filter_queryset(queryset)
        if not self.form.cleaned_data.get("status"):
            queryset = queryset.filter(status=DEFAULT_STATUS)
        return queryset
