from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from unittest import mock

import pytest
from django.utils import timezone

from receivables import services, tasks
from receivables.models import Invoice
from tests.factories import CustomerFactory
from tests.receivables.factories import make_invoice

pytestmark = pytest.mark.django_db


def set_due(invoice, due: date, status="pending"):
    Invoice.objects.filter(pk=invoice.pk).update(due_date=due, issue_date=due, status=status)


def test_task_marks_past_due_open_invoices_overdue_and_is_idempotent(org):
    today = timezone.now().date()
    past = make_invoice(org)
    partial = make_invoice(org, amount_due="50.00")
    future = make_invoice(org)
    paid = make_invoice(org, amount_due="0.00")
    set_due(past, today - timedelta(days=10))
    set_due(partial, today - timedelta(days=3), status="partial")
    set_due(paid, today - timedelta(days=10), status="paid")

    with mock.patch("receivables.services.overdue.event_emit") as emit:
        assert tasks.invoices_mark_overdue_task.delay().get() == 2
    assert tasks.invoices_mark_overdue_task.delay().get() == 0

    statuses = dict(Invoice.objects.values_list("pk", "status"))
    assert statuses[past.pk] == "overdue"
    assert statuses[partial.pk] == "overdue"
    assert statuses[future.pk] == "pending"
    assert statuses[paid.pk] == "paid"
    assert sorted(call.kwargs["event_type"] for call in emit.call_args_list) == [
        "invoice.overdue",
        "invoice.overdue",
    ]


def test_task_works_in_batches(org):
    invoices = [make_invoice(org) for _ in range(7)]
    for invoice in invoices:
        set_due(invoice, date(2020, 1, 1))

    assert services.invoices_mark_overdue(batch_size=3) == 7
    assert Invoice.objects.filter(status="overdue").count() == 7


@pytest.mark.parametrize(
    ("tz", "expected"),
    [("Pacific/Kiritimati", "overdue"), ("Pacific/Pago_Pago", "pending")],
)
def test_due_date_is_judged_in_the_customers_timezone(org, tz, expected):
    # 2026-06-15 12:00 UTC: already the 16th in Kiritimati (+14), still the 15th in Pago Pago (-11)
    now = datetime(2026, 6, 15, 12, 0, tzinfo=UTC)
    customer = CustomerFactory(organization=org, timezone=tz)
    invoice = make_invoice(org, customer=customer)
    set_due(invoice, date(2026, 6, 15))

    with mock.patch("django.utils.timezone.now", return_value=now):
        services.invoices_mark_overdue()

    invoice.refresh_from_db()
    assert invoice.status == expected


def test_paying_an_overdue_invoice_makes_it_paid(org):
    invoice = make_invoice(org)
    set_due(invoice, date(2020, 1, 1), status="overdue")

    services.invoice_record_offline_payment(invoice=invoice, amount=Decimal("100.00"))

    assert invoice.status == "paid"
