"""Remittance advice that arrives before its payment: it waits, and the payment that carries
its reference (or of its total, from its payer) is applied by it as it arrives, over the API
or in a bank file."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.db.models import F
from django.test.utils import CaptureQueriesContext

from credits.models import Deduction
from payments.models import Payment, PaymentAllocation
from payments.remittance_models import Remittance
from payments.services.remittances import remittance_create
from receivables.models import Invoice
from tests.factories import ContactFactory, CustomerFactory, make_invoice, make_payment

pytestmark = pytest.mark.django_db
PAYMENTS = "/api/v1/payments"
REMITTANCES = "/api/v1/remittances"
ADVICE = "Invoice 1001  $500.00\nInvoice 1002  $275.00 (less 25.00 damaged goods)\n"


@pytest.fixture
def book(org):
    customer = CustomerFactory(organization=org, company_name="Globex Corporation")
    other = CustomerFactory(organization=org, company_name="Initech LLC")
    invoices = [
        make_invoice(org, customer=customer, amount=amount, invoice_number=number)
        for number, amount in (("INV-1001", "500.00"), ("INV-1002", "300.00"))
    ]
    make_invoice(org, customer=other, amount="775.00", invoice_number="INV-2001")
    return customer, invoices


def _advice(api, text=ADVICE, **extra):
    response = api.post(REMITTANCES, {"text": text, **extra}, format="json")
    assert response.status_code == 201, response.content
    data = response.json()["data"]
    assert data["status"] == "unlinked", data
    return data


def _pay(api, amount="775.00", payer="GLOBEX CORP", **extra):
    response = api.post(
        PAYMENTS,
        {"amount": amount, "payment_date": "2026-06-01", "payer_name": payer, **extra},
        format="json",
    )
    assert response.status_code == 201, response.content
    return response.json()["data"]


def test_a_payment_arriving_after_its_advice_is_applied_line_by_line(api, org, book):
    _, (_, second) = book
    advice = _advice(api, payer_name="Globex")

    created = _pay(api)

    assert created["status"] == "applied", created
    # Read back: the create reply's allocations need payments/services/matching.py to leave a
    # payment its advice applied unheld (see the report).
    payment = api.get(f"{PAYMENTS}/{created['id']}").json()["data"]
    assert {
        (a["invoice_number"], a["amount"], a["applied_by"]) for a in payment["allocations"]
    } == {
        ("INV-1001", 500, "auto"),
        ("INV-1002", 275, "auto"),
    }
    again = api.get(f"{REMITTANCES}/{advice['id']}").json()["data"]
    assert again["status"] == "applied" and again["payment_id"] == payment["id"]
    second.refresh_from_db()
    assert second.amount_due == Decimal("25.00")
    assert Deduction.objects.get(invoice=second).reason.code == "damaged_goods"


def test_the_payment_reference_links_whoever_the_bank_says_paid(api, org, book):
    _advice(api, payment_reference="PMT-778812")

    payment = _pay(api, payer="ONLINE BANKING TRANSFER", payer_reference="PMT-778812 THANK YOU")

    assert payment["status"] == "applied", payment
    assert Remittance.objects.get().payment_id == Payment.objects.get().pk


def test_a_contact_of_the_invoices_customer_is_its_payer(api, org, book):
    customer, _ = book
    ContactFactory(organization=org, customer=customer, contact_name="Femi Okafor")
    _advice(api)  # names no payer: its invoices' customer does

    assert _pay(api, payer="F OKAFOR")["status"] == "applied"


def test_another_payers_payment_of_the_same_amount_is_not_linked(api, org, book):
    _advice(api, payer_name="Globex")

    payment = _pay(api, payer="INITECH LLC")

    assert not any(a["invoice_number"].startswith("INV-100") for a in payment["allocations"])
    assert Remittance.objects.get().status == Remittance.Status.UNLINKED
    # Its own payment comes next and takes it.
    assert _pay(api)["status"] == "applied"


def test_a_payment_naming_no_payer_is_linked_when_no_other_has_the_amount(api, org, book):
    _advice(api)

    assert _pay(api, payer="BILL PAY SERVICE")["status"] == "applied"


def test_a_payment_naming_no_payer_is_not_linked_when_another_has_the_amount(api, org, book):
    make_payment(org, amount="775.00", payer_name="INITECH LLC")  # not the advice's payer
    _advice(api)

    _pay(api, payer="BILL PAY SERVICE")

    assert Remittance.objects.get().status == Remittance.Status.UNLINKED
    paid = Invoice.objects.filter(
        invoice_number__in=["INV-1001", "INV-1002"], amount_due__lt=F("amount")
    )
    assert not paid.exists()


def test_two_advices_fitting_one_payment_wait_for_a_clerk(api, org, book):
    _advice(api, payer_name="Globex")
    _advice(api, text="Invoice 1001 500.00\nInvoice 1002 275.00\n", payer_name="Globex")

    _pay(api)

    assert set(Remittance.objects.values_list("status", flat=True)) == {"unlinked"}
    assert not PaymentAllocation.objects.filter(
        applied_by="auto", invoice__customer=book[0]
    ).count()


def test_a_line_whose_invoice_came_later_is_read_again(api, org, book):
    customer, _ = book
    _advice(api, text="Invoice 1001 500.00\nInvoice 3001 40.00\n", payer_name="Globex")
    late = make_invoice(org, customer=customer, amount="40.00", invoice_number="INV-3001")

    payment = _pay(api, amount="540.00")

    assert payment["status"] == "applied", payment
    late.refresh_from_db()
    assert late.amount_due == Decimal("0.00")


def test_advice_that_still_does_not_fit_goes_to_a_clerk_linked(api, org, book):
    _advice(api, text="Invoice 1001 500.00\nInvoice 9999 275.00\n", payer_name="Globex")

    payment = _pay(api)

    remittance = Remittance.objects.get()
    assert remittance.status == Remittance.Status.REVIEW
    assert str(remittance.payment_id) == payment["id"]
    assert "9999: no open invoice has that number" in remittance.reason
    # The line naming an open invoice is applied; the unknown one's 275.00 waits for a clerk.
    assert Invoice.objects.get(invoice_number="INV-1001").amount_due == Decimal("0.00")
    assert Payment.objects.get(pk=payment["id"]).unapplied_amount == Decimal("275.00")


def test_a_bank_file_import_applies_the_advice_waiting_for_its_payment(
    api, org, book, django_capture_on_commit_callbacks
):
    _advice(api, payer_name="Globex Corporation")
    data = (
        b"Date,Amount,Payer,Reference,Transaction ID\n"
        b"2026-06-01,775.00,GLOBEX CORP,PAYMENT,T-1\n"
        b"2026-06-01,12.00,SOMEONE ELSE,PAYMENT,T-2\n"
    )
    with django_capture_on_commit_callbacks(execute=True):
        response = api.post(
            f"{PAYMENTS}/import",
            {"file": SimpleUploadedFile("bank.csv", data)},
            format="multipart",
        )
    assert response.status_code == 202, response.content

    payment = Payment.objects.get(external_payment_id="T-1")
    assert payment.status == Payment.Status.APPLIED
    assert set(payment.allocations.values_list("invoice__invoice_number", flat=True)) == {
        "INV-1001",
        "INV-1002",
    }
    assert Remittance.objects.get().status == Remittance.Status.APPLIED


def test_advice_after_its_payment_finds_it_despite_a_misspelt_payer_and_a_twin(org, book):
    right = make_payment(org, amount="775.00", payer_name="GLOBX CORPORATION")
    make_payment(org, amount="775.00", payer_name="INITECH LLC")

    remittance = remittance_create(organization=org, data=ADVICE, payer_name="Globex Corporation")

    assert remittance.status == Remittance.Status.APPLIED, remittance.reason
    assert remittance.payment_id == right.pk


def test_no_advice_waiting_costs_a_payment_no_query(api, org, book):
    _pay(api, amount="1.00", payer="WARM UP")  # looks once, remembers that none waits
    with CaptureQueriesContext(connection) as captured:
        _pay(api, amount="2.00", payer="NOBODY")
    assert not [q for q in captured.captured_queries if "remittance" in q["sql"].lower()]

    _advice(api, payer_name="Globex")  # now one waits: the next payment looks
    with CaptureQueriesContext(connection) as captured:
        _pay(api, amount="3.00", payer="NOBODY")
    assert [q for q in captured.captured_queries if "remittance" in q["sql"].lower()]
