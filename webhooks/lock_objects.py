"""The webhooks app's row locks. Order: deliveries in primary-key order, then (by conditional
UPDATE) their endpoint."""

from webhooks.models import WebhookDelivery, WebhookEndpoint


def endpoint_deliveries_claimable(endpoint_id, *, now, due_before, limit: int):
    """The endpoint's first ``limit`` due deliveries no other worker holds, oldest due first,
    with what sending needs (their event's payload) and little else."""
    return (
        WebhookDelivery.objects.due(now, due_before=due_before)
        .filter(endpoint_id=endpoint_id)
        .select_related("event")
        .only("id", "endpoint_id", "attempt_count", "event__id", "event__payload")
        .order_by("next_attempt_at", "pk")
        .select_for_update(skip_locked=True, of=("self",))[:limit]
    )


def delivery_for_update(delivery_id):
    return WebhookDelivery.objects.filter(pk=delivery_id).select_for_update(of=("self",))


def deliveries_for_update(ids) -> list[WebhookDelivery]:
    return list(WebhookDelivery.objects.filter(pk__in=ids).order_by("pk").select_for_update())


def endpoint_for_update(endpoint_id):
    return WebhookEndpoint.objects.filter(pk=endpoint_id).select_for_update()
