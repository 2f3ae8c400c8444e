"""Builders for receivables tests (``make_invoice`` lives in ``tests.factories``)."""

from datetime import date, timedelta

from tests.factories import make_invoice  # noqa: F401 (re-exported)


def invoice_payload(customer, **overrides) -> dict:
    payload = {
        "invoice_number": "INV-1001",
        "customer_id": str(customer.id),
        "amount": 100,
        "due_date": (date.today() + timedelta(days=30)).isoformat(),
    }
    payload.update(overrides)
    return payload
