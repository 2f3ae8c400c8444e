"""Data for the clerk pages: customers with invoices, payments with suggestions, changes."""

import re
from datetime import timedelta
from decimal import Decimal

from django.utils import timezone

from payments import services as payment_services
from tests.factories import ContactFactory, CustomerFactory, TagFactory
from tests.payments.factories import make_payment
from tests.receivables.factories import make_invoice


def customer_with_invoices(organization, index: int, *, overdue_days: int = 0):
    customer = CustomerFactory(
        organization=organization,
        company_name=f"Customer {index:03d} Holdings",
        external_id=f"CU-{index:04d}",
    )
    ContactFactory(
        organization=organization, customer=customer, is_primary=True, escalation_level=1
    )
    ContactFactory(organization=organization, customer=customer, escalation_level=2)
    tag = TagFactory(organization=organization, name=f"segment-{index}")
    customer.tags.add(tag)
    today = timezone.localdate()
    invoice = make_invoice(
        organization,
        customer=customer,
        invoice_number=f"INV-{index:05d}",
        amount="100.00",
        issue_date=today - timedelta(days=overdue_days + 30),
        due_date=today - timedelta(days=overdue_days),
    )
    return customer, invoice


def book(organization, size: int) -> list:
    """``size`` customers, each with one invoice and one matching payment (with
    suggestions), one of every three a day or more overdue."""
    invoices = []
    for index in range(size):
        _, invoice = customer_with_invoices(organization, index, overdue_days=(index % 3) * 20)
        invoices.append(invoice)
    payments = [
        make_payment(
            organization,
            amount=str(invoice.amount_due),
            payer_name=invoice.customer.company_name,
            payer_reference=f"Payment for {invoice.invoice_number} thanks",
        )
        for invoice in invoices
    ]
    payment_services.payments_match(
        organization=organization, payment_ids=[p.pk for p in payments], auto_apply=False
    )
    return invoices


def money(value) -> Decimal:
    return Decimal(str(value))


def words(response) -> str:
    """The page's text without tags, whitespace collapsed."""
    html = re.sub(r"<[^>]+>", " ", response.content.decode())
    return re.sub(r"\s+", " ", html).strip()
