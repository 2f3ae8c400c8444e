"""Concurrent requests moving money, on real PostgreSQL: threads with their own connections.

No sequence of concurrent requests may apply the same money twice, drive a balance below
zero or deadlock (a deadlock or a lock error would be a 500).
"""

import contextlib
import os
import threading
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal

import pytest
from django.db import connection, connections
from django.db.models import Sum
from rest_framework.test import APIClient

from arpilot import services as org_services
from payments.models import Payment, PaymentAllocation
from receivables.models import Invoice
from tests.factories import CustomerFactory
from tests.payments.factories import ar_balance, make_invoice, make_payment, open_total

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(connection.vendor != "postgresql", reason="needs PostgreSQL row locks"),
]

REQUESTS = 50
# Every request runs in its own thread with its own connection; CI runs all 50 at once, a
# crowded shared server may lower this (PAYMENTS_CONCURRENCY_THREADS).
THREADS = int(os.environ.get("PAYMENTS_CONCURRENCY_THREADS", REQUESTS))


def _run_concurrently(calls) -> list:
    """Run the callables at once (released together), each closing its connection."""
    barrier = threading.Barrier(min(THREADS, len(calls)))

    def run(call):
        try:
            with contextlib.suppress(threading.BrokenBarrierError):
                barrier.wait(timeout=10)
            return call()
        finally:
            connections.close_all()

    with ThreadPoolExecutor(max_workers=THREADS) as pool:
        return list(pool.map(run, calls))


@pytest.fixture
def client_key(org):
    _, key = org_services.api_key_create(organization=org, name="concurrency")
    return key


def _patch(key, payment_id, body):
    def call():
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")
        response = client.patch(f"/api/v1/payments/{payment_id}", body, format="json")
        return response.status_code, response.json()

    return call


def _check_books(org):
    """Ledger, invoices, payments and allocations agree."""
    assert ar_balance(org) == open_total(org)
    for payment in Payment.objects.for_org(org):
        active = PaymentAllocation.objects.filter(payment=payment, unapplied_at__isnull=True)
        totals = active.aggregate(amount=Sum("amount"), write_off=Sum("write_off_amount"))
        assert payment.applied_amount == (totals["amount"] or 0)
        assert payment.written_off_amount == (totals["write_off"] or 0)
        assert 0 <= payment.applied_amount <= payment.amount
    for invoice in Invoice.objects.for_org(org):
        applied = PaymentAllocation.objects.filter(
            invoice=invoice, unapplied_at__isnull=True
        ).aggregate(total=Sum("amount"))["total"] or Decimal("0")
        assert invoice.amount_due == invoice.amount - applied
        assert invoice.amount_due >= 0


def test_fifty_requests_applying_the_same_payment_apply_it_once(org, client_key):
    customer = CustomerFactory(organization=org)
    invoices = [make_invoice(org, customer=customer, amount="100.00") for _ in range(REQUESTS)]
    payment = make_payment(org, amount="100.00")

    results = _run_concurrently(
        [_patch(client_key, payment.pk, {"invoice_id": str(invoice.pk)}) for invoice in invoices]
    )

    assert [status for status, _ in results] == [200] * REQUESTS
    payment.refresh_from_db()
    assert payment.applied_amount == Decimal("100.00")
    active = PaymentAllocation.objects.filter(payment=payment, unapplied_at__isnull=True)
    assert active.count() == 1
    paid = Invoice.objects.for_org(org).aggregate(paid=Sum("amount") - Sum("amount_due"))["paid"]
    assert paid == Decimal("100.00")
    _check_books(org)


def test_fifty_payments_applied_to_one_invoice_never_overpay_it(org, client_key):
    customer = CustomerFactory(organization=org)
    invoice = make_invoice(org, customer=customer, amount="1000.00")
    payments = [make_payment(org, amount="30.00") for _ in range(REQUESTS)]

    results = _run_concurrently(
        [_patch(client_key, payment.pk, {"invoice_id": str(invoice.pk)}) for payment in payments]
    )

    statuses = sorted(status for status, _ in results)
    assert set(statuses) <= {200, 400}
    assert statuses.count(200) == 34  # 33 x 30 and one 10 make 1000
    for status, body in results:
        if status == 400:
            assert "invoice_id" in body["error"]["fields"]
    invoice.refresh_from_db()
    assert (invoice.amount_due, invoice.status) == (Decimal("0.00"), "paid")
    assert Payment.objects.for_org(org).aggregate(total=Sum("applied_amount"))["total"] == (
        Decimal("1000.00")
    )
    _check_books(org)


def test_crossing_spreads_over_the_same_invoices_do_not_deadlock(org, client_key):
    customer = CustomerFactory(organization=org)
    first = make_invoice(org, customer=customer, amount="100.00")
    second = make_invoice(org, customer=customer, amount="100.00")
    one = make_payment(org, amount="100.00")
    other = make_payment(org, amount="100.00")
    calls = []
    for index in range(REQUESTS):
        shift = index % 7
        if index % 2:
            body = {
                "allocations": [
                    {"invoice_id": str(first.pk), "amount": 40 + shift},
                    {"invoice_id": str(second.pk), "amount": 60 - shift},
                ]
            }
            calls.append(_patch(client_key, one.pk, body))
        else:
            body = {
                "allocations": [
                    {"invoice_id": str(second.pk), "amount": 45 + shift},
                    {"invoice_id": str(first.pk), "amount": 55 - shift},
                ]
            }
            calls.append(_patch(client_key, other.pk, body))

    results = _run_concurrently(calls)

    assert {status for status, _ in results} <= {200, 400}
    assert any(status == 200 for status, _ in results)
    _check_books(org)


def test_concurrent_auto_apply_and_clerk_apply_of_one_invoice(org, client_key):
    from payments import services

    customer = CustomerFactory(organization=org, company_name="Acme Corp")
    invoice = make_invoice(org, customer=customer, amount="100.00", invoice_number="INV-9")
    payments = [make_payment(org, amount="100.00") for _ in range(10)]

    def auto(payment):
        def call():
            applied = services.payment_auto_apply(
                organization=org.pk,
                payment_id=payment.pk,
                invoice_ids=[invoice.pk],
                amount=Decimal("100.00"),
            )
            return (200 if applied else 409), {}

        return call

    calls = [auto(p) for p in payments[:5]] + [
        _patch(client_key, p.pk, {"invoice_id": str(invoice.pk)}) for p in payments[5:]
    ]
    results = _run_concurrently(calls)

    assert sum(1 for status, _ in results if status == 200) == 1
    invoice.refresh_from_db()
    assert invoice.amount_due == 0
    _check_books(org)
