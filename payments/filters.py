"""FilterSets of payments, shared by the API and the clerk pages (the review queue and the
payment list render ``PaymentFilterSet``'s form as their filter bar)."""

import django_filters
from django import forms
from django.db.models import Exists, OuterRef, Q

from arpilot.api.filtering import FilterSet
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


AUTO_APPLIED_CHOICES = [("", "Any"), ("true", "Auto-applied"), ("false", "Not auto-applied")]


class PaymentFilterSet(FilterSet):
    """The payments API's filters; the clerk pages use ``PAGE_FILTERS`` of them."""

    invoice_id = django_filters.UUIDFilter(
        method="filter_invoice", help_text="Payments (partly) applied to this invoice"
    )
    reviewed = StrictBooleanFilter(
        method="filter_reviewed",
        help_text="`true`: reviewed; `false`: the review queue (also `True`/`False`, `1`/`0`)",
    )
    status = django_filters.ChoiceFilter(
        choices=Payment.Status.choices, label="Status", empty_label="Any", help_text="Status"
    )
    search = django_filters.CharFilter(
        method="filter_search",
        label="Payer or reference",
        max_length=200,
        help_text="Part of the payer name, the payer reference or the external payment ID "
        "(case-insensitive)",
    )
    auto_applied = StrictBooleanFilter(
        field_name="auto_applied",
        label="Auto-applied",
        widget=forms.Select(choices=AUTO_APPLIED_CHOICES),
        help_text="`true`: applied by the matcher without a clerk; `false`: not",
    )
    import_id = django_filters.UUIDFilter(
        field_name="payment_import_id",
        label="Import",
        widget=forms.HiddenInput,
        help_text="Payments of this bank-file import",
    )

    class Meta:
        model = Payment
        fields = []

    def filter_search(self, queryset, name, value):
        value = value.strip()
        if not value:
            return queryset
        return queryset.filter(
            Q(payer_name__icontains=value)
            | Q(payer_reference__icontains=value)
            | Q(external_payment_id__icontains=value)
        )

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


# The filters of the clerk pages' filter bar (the review queue and the payment list); the
# pages ignore the API's other parameters, as they always did.
PAGE_FILTERS = ("search", "status", "auto_applied", "import_id")
