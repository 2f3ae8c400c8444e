from celery import shared_task

from receivables import services


@shared_task(name="receivables.tasks.invoices_mark_overdue")
def invoices_mark_overdue_task() -> int:
    """Mark invoices whose due date has passed overdue (idempotent, batched)."""
    return services.invoices_mark_overdue()
