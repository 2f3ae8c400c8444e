"""SQL statements per write request, pinned at two sizes of book so none grows with the data.

(bench/api_load.py --queries prints the same counts against a seeded book; the figures and
the targets are in bench/README.md.)
"""

from datetime import date, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests.factories import CustomerFactory
from tests.receivables.factories import make_invoice

# Transactional: each request's service transaction is the outermost one, as in production
# (BEGIN/COMMIT instead of a test's savepoints; savepoints a service takes only when nested
# are skipped).
pytestmark = pytest.mark.django_db(transaction=True)

POSTGRES = connection.vendor == "postgresql"
# Statements including BEGIN/COMMIT and savepoints, as bench/api_load.py counts them.
# PostgreSQL numbers invoices and accounting changes in the INSERT (sequence defaults);
# SQLite draws them first (the Aplos counter row: 2 statements; the change's max + 1).
# PostgreSQL writes a journal entry and its lines in one statement; SQLite in two. The reply
# does not read the new invoice's dispute (InvoicesDescribed ``created``: it has none).
CREATE_INVOICE = 10 if POSTGRES else 14  # target ≤ 12
# PostgreSQL writes a payment's suggestions by COPY, which the capture does not list (one
# statement more than the figure); SQLite's INSERT is listed.
IMPORT_UNMATCHED = 8 if POSTGRES else 9
IMPORT_AUTO_APPLIED = 15 if POSTGRES else 18  # target ≤ 15
APPLY = 17 if POSTGRES else 19  # target ≤ 20


def _book(org, size: int):
    customer = CustomerFactory(organization=org, company_name="Book Customer")
    for index in range(size):
        make_invoice(org, customer=customer, amount="50.00", invoice_number=f"BOOK-{index}")
    return customer


def _count(call) -> tuple[int, object]:
    with CaptureQueriesContext(connection) as captured:
        response = call()
    assert 200 <= response.status_code < 300, response.content
    return len(captured), response


def _create_invoice(api, customer, number):
    return api.post(
        "/api/v1/invoices",
        {
            "invoice_number": number,
            "customer_id": str(customer.pk),
            "amount": "123.45",
            "due_date": (date.today() + timedelta(days=30)).isoformat(),
        },
        format="json",
    )


def _import_payment(api, name, reference="no reference here"):
    return api.post(
        "/api/v1/payments",
        {
            "amount": "123.45",
            "payment_date": date.today().isoformat(),
            "payer_name": name,
            "payer_reference": reference,
        },
        format="json",
    )


def _assert_reads_back(api, reply):
    """An import's reply is rendered from the rows it wrote, not read back: it must be what
    reading the payment answers."""
    data = reply.json()["data"]
    assert api.get(f"/api/v1/payments/{data['id']}").json()["data"] == data


@pytest.mark.parametrize("size", [2, 40])
def test_write_requests_cost_a_fixed_number_of_statements(api, org, size):
    customer = _book(org, size)
    _create_invoice(api, customer, "WARM-UP")  # first-use rows (Aplos contact, settings)
    _import_payment(api, "Warm Up")

    create, invoice = _count(lambda: _create_invoice(api, customer, "Q-1"))
    imported, payment = _count(lambda: _import_payment(api, "Wire transfer 1"))
    _assert_reads_back(api, payment)
    applied, _ = _count(
        lambda: api.patch(
            f"/api/v1/payments/{payment.json()['data']['id']}",
            {"invoice_id": invoice.json()["data"]["id"]},
            format="json",
        )
    )

    _create_invoice(api, customer, "Q-2")
    auto, paid = _count(lambda: _import_payment(api, "Book Customer", "Invoice Q-2"))
    assert paid.json()["data"]["auto_applied"]

    assert (create, imported, applied, auto) == (
        CREATE_INVOICE,
        IMPORT_UNMATCHED,
        APPLY,
        IMPORT_AUTO_APPLIED,
    )
    _assert_reads_back(api, paid)
