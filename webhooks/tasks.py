from celery import shared_task

from webhooks import services


@shared_task(name="webhooks.tasks.send_due")
def send_due_task(endpoint_id: str, flagged: bool = False) -> None:
    """Send the endpoint's due deliveries in batches (idempotent: leases re-check the rows)."""
    services.endpoint_drain(endpoint_id=endpoint_id, flagged=flagged)


@shared_task(name="webhooks.tasks.requeue_due")
def requeue_due_task() -> int:
    """Beat, every minute: queue again deliveries whose task was lost."""
    return services.deliveries_requeue_due()
