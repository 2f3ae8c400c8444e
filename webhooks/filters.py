import django_filters

from arpilot.api.filtering import FilterSet
from webhooks.models import WebhookDelivery


class DeliveryFilterSet(FilterSet):
    status = django_filters.ChoiceFilter(
        choices=WebhookDelivery.Status.choices,
        label="pending (waiting for its next attempt), succeeded or failed (gave up)",
    )

    class Meta:
        model = WebhookDelivery
        fields = ["status"]
