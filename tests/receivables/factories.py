"""Builders for receivables tests."""

from datetime import date, timedelta
from decimal import Decimal

from django.utils import timezone

from receivables import services
from tests.factories import CustomerFactory


def make_invoice(organization, *, customer=None, amount="100.00", due_in_days=30, **kwargs):
    """An issued invoice (through the service, so the ledger has its entry)."""
    customer = customer or CustomerFactory(organization=organization)
    today = timezone.localdate()
    kwargs.setdefault("invoice_number", f"INV-{services._next_aplos_id(organization):05d}")
    kwargs.setdefault("issue_date", today)
    if "amount_due" in kwargs:
        kwargs["amount_due"] = Decimal(kwargs["amount_due"])
    return services.invoice_create(
        organization=organization,
        customer=customer,
        amount=Decimal(amount),
        due_date=kwargs.pop("due_date", None) or today + timedelta(days=due_in_days),
        **kwargs,
    )


def invoice_payload(customer, **overrides) -> dict:
    payload = {
        "invoice_number": "INV-1001",
        "customer_id": str(customer.id),
        "amount": 100,
        "due_date": (date.today() + timedelta(days=30)).isoformat(),
    }
    payload.update(overrides)
    return payload
