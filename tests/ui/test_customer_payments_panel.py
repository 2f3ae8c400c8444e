"""The customer page's payments panel (served by the payments app, loaded by htmx): the
payments applied to the customer's invoices, what each put there, and the unapplied cash."""

import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from payments import services as payment_services
from tests.factories import CustomerFactory, make_invoice, make_payment
from tests.ui.builders import words

pytestmark = pytest.mark.django_db


def _paid(org, customer, number: str, *, invoice_amount: str, payment_amount: str, payer: str):
    invoice = make_invoice(org, customer=customer, invoice_number=number, amount=invoice_amount)
    payment = make_payment(org, amount=payment_amount, payer_name=payer)
    payment_services.payment_update(organization=org, payment_id=payment.pk, invoice_id=invoice.pk)
    return payment


def test_the_panel_lists_the_customers_payments_and_their_unapplied_cash(ui, org):
    customer = CustomerFactory(organization=org, company_name="Acme Widgets")
    _paid(org, customer, "INV-1", invoice_amount="100.00", payment_amount="150.00", payer="ACME")
    other = CustomerFactory(organization=org, company_name="Bolt")
    _paid(org, other, "INV-2", invoice_amount="40.00", payment_amount="40.00", payer="BOLT")

    page = words(ui.get(reverse("payments:customer-panel", args=[customer.pk])))

    assert "Unapplied cash $50.00" in page
    assert re.search(r"ACME \$150\.00 \$100\.00 \$50\.00 \w", page), page
    assert "BOLT" not in page


def test_a_customer_without_payments_has_no_unapplied_cash(ui, org):
    customer = CustomerFactory(organization=org)

    page = words(ui.get(reverse("payments:customer-panel", args=[customer.pk])))

    assert "Unapplied cash $0.00" in page
    assert "No payments applied to this customer's invoices." in page


def test_another_organizations_customer_is_a_404(ui, other_org):
    stranger = CustomerFactory(organization=other_org)

    assert ui.get(reverse("payments:customer-panel", args=[stranger.pk])).status_code == 404


@pytest.mark.parametrize("payments", [1, 6])
def test_the_panel_costs_the_same_queries_however_many_payments(ui, org, payments):
    customer = CustomerFactory(organization=org)
    for index in range(payments):
        _paid(
            org, customer, f"INV-{index}", invoice_amount="10.00", payment_amount="10.00",
            payer=f"P{index}",
        )  # fmt: skip
    url = reverse("payments:customer-panel", args=[customer.pk])
    ui.get(url)  # warm the session

    with CaptureQueriesContext(connection) as captured:
        response = ui.get(url)

    assert response.status_code == 200
    assert len(captured) == 7  # session, user, memberships; customer, unapplied, count, page
