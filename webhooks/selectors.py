from django.db.models import Prefetch

from webhooks.models import WebhookDelivery, WebhookDeliveryAttempt, WebhookEndpoint


def endpoint_list(*, organization):
    return WebhookEndpoint.objects.for_org(organization).order_by("created_at", "id")


def delivery_list(*, organization, endpoint_id):
    """An endpoint's deliveries, newest first, each with its event and attempts."""
    return (
        WebhookDelivery.objects.for_org(organization)
        .filter(endpoint_id=endpoint_id)
        .select_related("event")
        .prefetch_related(
            Prefetch(
                "attempts", queryset=WebhookDeliveryAttempt.objects.order_by("created_at", "number")
            )
        )
        .order_by("-created_at", "id")
    )
