"""The customer page's "Credit" panel: on-account credit by currency, with an "Apply to
invoice" and a "Refund" form for each payment's credit (payments.views.credit)."""

import re
from decimal import Decimal

import pytest
from django.test import Client
from django.urls import reverse

from arpilot import services as org_services
from arpilot.models import Membership
from payments import services as payment_services
from payments.models import CreditRefund
from tests.factories import CustomerFactory, make_invoice, make_payment


@pytest.fixture
def customer(org):
    return CustomerFactory(organization=org, company_name="Acme Corp")


@pytest.fixture
def ui(org) -> Client:
    user = org_services.user_create(username="clerk", password="correct-horse-battery")
    org_services.membership_add(organization=org, user=user, role=Membership.Role.CLERK)
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    return client


def csrf(client: Client) -> dict:
    client.get(reverse("customers:list"))
    return {"HTTP_X_CSRFTOKEN": client.cookies["csrftoken"].value}


def overpaid(org, customer):
    """A payment of 100 applied to an invoice of 60: 40 of credit."""
    invoice = make_invoice(org, customer=customer, amount="60.00")
    payment = make_payment(org, amount="100.00", payer_name="Acme Treasury")
    payment_services.payment_update(organization=org, payment_id=payment.pk, invoice_id=invoice.pk)
    return payment


def panel_url(customer) -> str:
    return reverse("payments:customer-credit", args=[customer.pk])


def apply_url(customer, payment) -> str:
    return reverse("payments:customer-credit-apply", args=[customer.pk, payment.pk])


def refund_url(customer, payment) -> str:
    return reverse("payments:customer-credit-refund", args=[customer.pk, payment.pk])


def text(response) -> str:
    return re.sub(r"\s+", " ", response.content.decode())


def test_the_customer_page_loads_the_credit_panel(ui, customer):
    response = ui.get(reverse("customers:detail", args=[customer.pk]))

    assert response.status_code == 200
    assert 'id="credit-title">Credit</h2>' in text(response)
    assert f'hx-get="{panel_url(customer)}"' in text(response)


def test_the_panel_lists_credit_with_apply_and_refund_forms(ui, org, customer):
    payment = overpaid(org, customer)
    open_invoice = make_invoice(org, customer=customer, amount="30.00", invoice_number="INV-OPEN")
    make_invoice(org, amount="30.00", invoice_number="INV-THEIRS")  # another customer's

    response = ui.get(panel_url(customer), HTTP_HX_REQUEST="true")

    page = text(response)
    assert response.status_code == 200
    assert 'data-credit-currency="USD"' in page
    assert f'data-credit-payment="{payment.pk}"' in page
    assert "$40.00" in page
    assert f'action="{apply_url(customer, payment)}"' in page
    assert f'action="{refund_url(customer, payment)}"' in page
    assert f'<option value="{open_invoice.pk}"' in page
    assert "INV-THEIRS" not in page
    assert "csrfmiddlewaretoken" in page


def test_a_customer_without_credit_says_so(ui, customer):
    make_payment(customer.organization, amount="50.00")  # unmatched: the review queue's

    response = ui.get(panel_url(customer), HTTP_HX_REQUEST="true")

    assert "data-credit-none" in text(response)


def test_another_organization_s_customer_is_404(ui, other_org):
    theirs = CustomerFactory(organization=other_org)

    assert ui.get(panel_url(theirs)).status_code == 404


def test_applying_credit_from_the_page_settles_the_invoice(ui, org, customer):
    payment = overpaid(org, customer)
    invoice = make_invoice(org, customer=customer, amount="30.00")

    response = ui.post(
        apply_url(customer, payment),
        {f"apply-{payment.pk}-invoice_id": str(invoice.pk), f"apply-{payment.pk}-amount": ""},
        **csrf(ui),
    )

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("customers:detail", args=[customer.pk]))
    invoice.refresh_from_db()
    payment.refresh_from_db()
    assert (invoice.amount_due, payment.unapplied_amount) == (Decimal("0.00"), Decimal("10.00"))


def test_an_htmx_apply_answers_the_panel_with_what_was_done(ui, org, customer):
    payment = overpaid(org, customer)
    invoice = make_invoice(org, customer=customer, amount="30.00")

    response = ui.post(
        apply_url(customer, payment),
        {f"apply-{payment.pk}-invoice_id": str(invoice.pk), f"apply-{payment.pk}-amount": "5"},
        HTTP_HX_REQUEST="true",
        **csrf(ui),
    )

    assert response.status_code == 200
    assert "data-credit-done" in text(response)
    assert "$35.00" in text(response)  # the credit left


def test_a_refused_apply_shows_the_error_next_to_the_amount(ui, org, customer):
    payment = overpaid(org, customer)
    invoice = make_invoice(org, customer=customer, amount="30.00")

    response = ui.post(
        apply_url(customer, payment),
        {f"apply-{payment.pk}-invoice_id": str(invoice.pk), f"apply-{payment.pk}-amount": "35"},
        **csrf(ui),
    )

    page = text(response)
    assert response.status_code == 200
    assert f'id="id_apply-{payment.pk}-amount-err" data-field-error="amount"' in page
    assert 'aria-invalid="true"' in page
    invoice.refresh_from_db()
    assert invoice.amount_due == Decimal("30.00")


def test_an_apply_without_an_invoice_names_the_invoice(ui, org, customer):
    payment = overpaid(org, customer)

    response = ui.post(apply_url(customer, payment), {}, **csrf(ui))

    assert 'data-field-error="invoice_id"' in text(response)


def test_refunding_from_the_page_records_the_refund(ui, org, customer):
    payment = overpaid(org, customer)

    response = ui.post(
        refund_url(customer, payment),
        {
            f"refund-{payment.pk}-amount": "15.00",
            f"refund-{payment.pk}-method": "check",
            f"refund-{payment.pk}-reference": "CHK-12",
            f"refund-{payment.pk}-date": "2026-11-30",
        },
        **csrf(ui),
    )

    assert response.status_code == 302
    refund = CreditRefund.objects.get()
    assert (refund.amount, refund.method, refund.reference) == (Decimal("15.00"), "check", "CHK-12")
    payment.refresh_from_db()
    assert payment.unapplied_amount == Decimal("25.00")


@pytest.mark.parametrize(
    ("amount", "message"),
    [("41.00", "Exceeds the payment"), ("12,50", "ambiguous"), ("0", "greater than zero")],
)
def test_a_refused_refund_shows_the_error_next_to_the_amount(ui, org, customer, amount, message):
    payment = overpaid(org, customer)

    response = ui.post(
        refund_url(customer, payment), {f"refund-{payment.pk}-amount": amount}, **csrf(ui)
    )

    page = text(response)
    assert f'id="id_refund-{payment.pk}-amount-err" data-field-error="amount"' in page
    assert message in page
    assert not CreditRefund.objects.exists()


def test_posting_without_the_csrf_token_is_refused(ui, org, customer):
    payment = overpaid(org, customer)

    response = ui.post(refund_url(customer, payment), {f"refund-{payment.pk}-amount": "1"})

    assert response.status_code == 403
    assert not CreditRefund.objects.exists()
