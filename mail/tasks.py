from celery import shared_task

from mail import services


@shared_task(name="mail.tasks.send")
def send_task(email_id: str) -> None:
    """Send one queued email (idempotent: the lease re-checks the row)."""
    services.email_send(email_id=email_id)


@shared_task(name="mail.tasks.queue_sends")
def queue_sends_task(email_ids: list[str]) -> int:
    """Queue the send task of each of many emails written together (``emails_queue``)."""
    return services.emails_send_queue(email_ids)


@shared_task(name="mail.tasks.requeue_due")
def requeue_due_task() -> int:
    """Beat, every minute: settle emails of dead workers, queue again those of lost tasks."""
    return services.emails_requeue_due()
