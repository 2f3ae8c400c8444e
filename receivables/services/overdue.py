"""The hourly sweep that marks open invoices overdue, in each customer's timezone."""

from datetime import date

from django.db import transaction
from django.utils import timezone

from customers.models import Customer
from receivables.models import (
    Invoice,
)
from receivables.rendering import event_payload
from receivables.services.state import Status, customer_today
from webhooks.services import event_emit

OVERDUE_BATCH = 5000


def invoices_mark_overdue(*, batch_size: int = OVERDUE_BATCH, today_utc: date | None = None) -> int:
    """Mark open invoices whose due date has passed (in the customer's timezone) overdue.

    Idempotent. Due dates two or more days before today in UTC have passed in every timezone
    and are updated in batches of ``batch_size`` (a transaction each); the two days around
    today are checked one customer timezone at a time.
    """
    from datetime import timedelta

    today_utc = today_utc or timezone.now().date()
    surely_past = today_utc - timedelta(days=1)
    marked = 0
    open_statuses = [Status.PENDING, Status.PARTIAL]
    while True:
        with transaction.atomic():
            ids = list(
                Invoice.objects.filter(status__in=open_statuses, due_date__lt=surely_past)
                .order_by()
                .values_list("pk", flat=True)[:batch_size]
            )
            if not ids:
                break
            marked += _mark_overdue(ids)
    borderline = (
        Invoice.objects.filter(
            status__in=open_statuses,
            due_date__gte=surely_past,
            due_date__lt=today_utc + timedelta(days=1),
        )
        .order_by()
        .values_list("pk", "due_date", "customer__timezone")
    )
    due_ids = []
    today_in: dict[str, date] = {}
    for pk, due_date, tz_name in borderline.iterator(chunk_size=batch_size):
        if tz_name not in today_in:
            today_in[tz_name] = customer_today(Customer(timezone=tz_name))
        if due_date < today_in[tz_name]:
            due_ids.append(pk)
    for start in range(0, len(due_ids), batch_size):
        with transaction.atomic():
            marked += _mark_overdue(due_ids[start : start + batch_size])
    return marked


def _mark_overdue(ids: list) -> int:
    from receivables.selectors import invoices_by_ids

    locked = [
        invoice.pk
        for invoice in Invoice.objects.filter(
            pk__in=ids, status__in=[Status.PENDING, Status.PARTIAL]
        )
        .order_by("pk")
        .select_for_update()
        .only("pk")
    ]
    if not locked:
        return 0
    updated = Invoice.objects.filter(pk__in=locked).update(
        status=Status.OVERDUE, updated_at=timezone.now()
    )
    for invoice in invoices_by_ids(locked):
        event_emit(
            organization_id=invoice.organization_id,
            event_type="invoice.overdue",
            data=event_payload(invoice),
        )
    return updated
