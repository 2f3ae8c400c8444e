"""Invoice creates of one organization do not wait for each other (PostgreSQL)."""

import threading
from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.db import connection, connections, transaction

from receivables import services
from receivables.models import Invoice
from tests.factories import CustomerFactory

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(connection.vendor != "postgresql", reason="needs PostgreSQL row locks"),
]


def _create(org, customer, number):
    return services.invoice_create(
        organization=org,
        customer=customer,
        invoice_number=number,
        amount=Decimal("10.00"),
        due_date=date.today() + timedelta(days=30),
    )


def test_an_invoice_create_does_not_wait_for_another_still_in_its_transaction(org):
    customer = CustomerFactory(organization=org)
    _create(org, customer, "FIRST-1")  # the customer's Aplos contact exists from then on
    created, release, errors = threading.Event(), threading.Event(), []

    def slow_writer():
        try:
            with transaction.atomic():
                _create(org, customer, "SLOW-1")
                created.set()
                release.wait(10)  # its transaction stays open meanwhile
        except Exception as exc:
            errors.append(exc)
            created.set()
        finally:
            connections.close_all()

    thread = threading.Thread(target=slow_writer)
    thread.start()
    assert created.wait(10)
    try:
        with transaction.atomic():
            with connection.cursor() as cursor:  # waiting on any row lock fails at once
                cursor.execute("SET LOCAL lock_timeout = '1s'")
            quick = _create(org, customer, "QUICK-1")
    finally:
        release.set()
        thread.join(10)

    assert errors == []
    slow = Invoice.objects.get(invoice_number="SLOW-1")
    assert quick.aplos_id != slow.aplos_id
    assert Invoice.objects.filter(organization=org).count() == 3
