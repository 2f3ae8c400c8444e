from celery import shared_task

from webhooks import services


@shared_task(name="webhooks.tasks.deliver")
def deliver_task(delivery_id: str) -> None:
    """Send one delivery if it is still due (idempotent: re-checks the row)."""
    services.delivery_attempt(delivery_id=delivery_id)


@shared_task(name="webhooks.tasks.requeue_due")
def requeue_due_task() -> int:
    """Beat, every minute: queue again deliveries whose task was lost."""
    return services.deliveries_requeue_due()
