"""FilterSets of payments, shared by the API and (later) the clerk pages."""

import django_filters
from django import forms
from django.db.models import Exists, OuterRef

from payments.models import Payment, PaymentAllocation


class StrictBooleanField(forms.Field):
    """A boolean query value: true/false, True/False, 1/0 (any case); anything else is a 400."""

    widget = forms.TextInput
    TRUE = frozenset({"true", "1"})
    FALSE = frozenset({"false", "0"})

    def to_python(self, value):
        if value in (None, ""):
            return None
        text = str(value).strip().lower()
        if text in self.TRUE:
            return True
        if text in self.FALSE:
            return False
        raise forms.ValidationError("Use true or false.", code="invalid")


class StrictBooleanFilter(django_filters.BooleanFilter):
    """Declared as a plain ``boolean`` in the schema (drf-spectacular maps BooleanFilter)."""

    field_class = StrictBooleanField


class PaymentFilterSet(django_filters.FilterSet):
    invoice_id = django_filters.UUIDFilter(
        method="filter_invoice", help_text="Payments (partly) applied to this invoice"
    )
    reviewed = StrictBooleanFilter(
        method="filter_reviewed",
        help_text="`true`: reviewed; `false`: the review queue (also `True`/`False`, `1`/`0`)",
    )
    status = django_filters.ChoiceFilter(choices=Payment.Status.choices, help_text="Status")

    class Meta:
        model = Payment
        fields = []

    def filter_reviewed(self, queryset, name, value):
        return queryset.filter(reviewed=value)

    def filter_invoice(self, queryset, name, value):
        return queryset.filter(
            Exists(
                PaymentAllocation.objects.filter(
                    payment=OuterRef("pk"), invoice_id=value, unapplied_at__isnull=True
                )
            )
        )
