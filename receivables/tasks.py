import logging

from celery import shared_task

from arpilot.models import Organization
from customers.models import Customer
from receivables import services

logger = logging.getLogger(__name__)


@shared_task(name="receivables.tasks.invoices_mark_overdue")
def invoices_mark_overdue_task() -> int:
    """Mark invoices whose due date has passed overdue (idempotent, batched)."""
    return services.invoices_mark_overdue()


@shared_task(name="receivables.tasks.statements_send")
def statements_send_task(organization_id: int, customer_ids: list[str], batch: str = "") -> int:
    """Email each customer's statement, each in its own transaction; a customer deleted
    since, or left without a contact with an email address, is skipped, and so is one whose
    statement of ``batch`` is already queued (this task ran before, and its worker died).
    Returns the number of emails queued."""
    organization = Organization.objects.filter(pk=organization_id).first()
    if organization is None:
        return 0
    done = services.statements.statements_already_queued(
        organization=organization, batch=batch, customer_ids=customer_ids
    )
    customers = Customer.objects.for_org(organization).filter(pk__in=customer_ids)
    queued = 0
    for customer in customers.order_by("company_name", "id"):
        if str(customer.pk) in done:
            continue
        try:
            email = services.statement_send(
                organization=organization, customer=customer, batch=batch
            )
        except Exception:  # one customer's failure must not stop the others' statements
            logger.exception("Statement of customer %s not sent", customer.pk)
            continue
        queued += email is not None
    return queued
