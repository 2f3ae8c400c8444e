"""FilterSets of payments, shared by the API and (later) the clerk pages."""

import django_filters
from django.db.models import Exists, OuterRef

from payments.models import Payment, PaymentAllocation


class PaymentFilterSet(django_filters.FilterSet):
    invoice_id = django_filters.UUIDFilter(
        method="filter_invoice", help_text="Payments (partly) applied to this invoice"
    )
    reviewed = django_filters.ChoiceFilter(
        choices=[("true", "true"), ("false", "false")],
        method="filter_reviewed",
        help_text="`true`: reviewed; `false`: the review queue",
    )
    status = django_filters.ChoiceFilter(choices=Payment.Status.choices, help_text="Status")

    class Meta:
        model = Payment
        fields = []

    def filter_reviewed(self, queryset, name, value):
        return queryset.filter(reviewed=value == "true")

    def filter_invoice(self, queryset, name, value):
        return queryset.filter(
            Exists(
                PaymentAllocation.objects.filter(
                    payment=OuterRef("pk"), invoice_id=value, unapplied_at__isnull=True
                )
            )
        )
