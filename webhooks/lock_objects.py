"""The webhooks app's row locks. Order: a delivery, then (by conditional UPDATE) its endpoint."""

from webhooks.models import WebhookDelivery, WebhookEndpoint


def delivery_claimable(delivery_id, *, now, due_before):
    """The delivery if due and not held by another worker; workers skip rows others lock."""
    return (
        WebhookDelivery.objects.due(now, due_before=due_before)
        .filter(pk=delivery_id)
        .select_related("endpoint", "event")
        .select_for_update(skip_locked=True, of=("self",))
    )


def delivery_for_update(delivery_id):
    return WebhookDelivery.objects.filter(pk=delivery_id).select_for_update(of=("self",))


def endpoint_for_update(endpoint_id):
    return WebhookEndpoint.objects.filter(pk=endpoint_id).select_for_update()
