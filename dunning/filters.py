"""FilterSets of collections, for the API (and the clerk pages to come)."""

import django_filters

from arpilot.api.filtering import FilterSet
from dunning.models import Promise, Reminder


class ReminderFilterSet(FilterSet):
    customer_id = django_filters.UUIDFilter(field_name="customer_id", help_text="The customer")
    invoice_id = django_filters.UUIDFilter(
        field_name="lines__invoice_id", distinct=True, help_text="Reminders naming this invoice"
    )
    level = django_filters.NumberFilter(field_name="level", help_text="The dunning level")
    status = django_filters.ChoiceFilter(choices=Reminder.Status.choices, help_text="Status")

    class Meta:
        model = Reminder
        fields = ["customer_id", "invoice_id", "level", "status"]


class PromiseFilterSet(FilterSet):
    customer_id = django_filters.UUIDFilter(field_name="customer_id", help_text="The customer")
    invoice_id = django_filters.UUIDFilter(
        field_name="lines__invoice_id", distinct=True, help_text="Promises covering this invoice"
    )
    status = django_filters.ChoiceFilter(choices=Promise.Status.choices, help_text="Status")

    class Meta:
        model = Promise
        fields = ["customer_id", "invoice_id", "status"]
