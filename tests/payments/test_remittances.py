"""Remittance advice over the API: read, linked to its payment, applied line by line or left
for a clerk with the reason."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from credits.models import Deduction
from receivables.models import Invoice
from tests.factories import CustomerFactory, make_invoice, make_payment

pytestmark = pytest.mark.django_db
URL = "/api/v1/remittances"


@pytest.fixture
def book(org):
    customer = CustomerFactory(organization=org, company_name="Globex Corporation")
    invoices = [
        make_invoice(org, customer=customer, amount=amount, invoice_number=number)
        for number, amount in (
            ("INV-1001", "500.00"),
            ("INV-1002", "300.00"),
            ("INV-1003", "80.00"),
        )
    ]
    return customer, invoices


def test_an_email_advice_finds_its_payment_and_applies_it_line_by_line(api, org, book):
    _, (first, second, third) = book
    payment = make_payment(org, amount="775.00", payer_name="GLOBEX CORP")
    text = (
        "Hi, our payment covers:\n"
        "Invoice 1001  $500.00\n"
        "Invoice 1002  $275.00 (less 25.00 damaged goods)\n"
    )
    response = api.post(URL, {"text": text, "payer_name": "Globex"}, format="json")

    assert response.status_code == 201, response.content
    data = response.json()["data"]
    assert data["status"] == "applied", data
    assert data["payment_id"] == str(payment.pk)
    assert data["total"] == 775  # money is a JSON number
    assert [(line["reference"], line["amount"], line["deduction"], line["status"])
            for line in data["lines"]] == [
        ("1001", 500, 0, "applied"),
        ("1002", 275, 25, "applied"),
    ]  # fmt: skip
    first.refresh_from_db()
    second.refresh_from_db()
    assert first.amount_due == Decimal("0.00")
    # The 25.00 deducted stays on the invoice, as an open deduction for damaged goods.
    assert second.amount_due == Decimal("25.00")
    deduction = Deduction.objects.get(invoice=second)
    assert deduction.amount == Decimal("25.00") and deduction.reason.code == "damaged_goods"
    third.refresh_from_db()
    assert third.amount_due == Decimal("80.00")

    again = api.get(f"{URL}/{data['id']}")
    assert again.status_code == 200 and again.json()["data"] == data


def test_a_csv_file_for_a_named_payment(api, org, book):
    payment = make_payment(org, amount="580.00")
    body = b"Invoice No;Amount Paid\nINV-1001;500,00\nINV-1003;80,00\n"
    response = api.post(
        URL,
        {"file": SimpleUploadedFile("advice.csv", body), "payment_id": str(payment.pk)},
        format="multipart",
    )
    data = response.json()["data"]
    assert response.status_code == 201 and data["status"] == "applied", data
    assert Invoice.objects.get(invoice_number="INV-1003").amount_due == Decimal("0.00")


@pytest.mark.parametrize(
    ("text", "amount", "reason"),
    [
        ("Invoice 1001 500.00\nInvoice 1002 200.00", "750.00", "the lines total 700.00"),
        ("Invoice 1003 90.00", "90.00", "asks 90.00, the invoice owes 80.00"),
    ],
)
def test_advice_that_does_not_fit_goes_to_a_clerk_with_the_reason_and_moves_nothing(
    api, org, book, text, amount, reason
):
    payment = make_payment(org, amount=amount)
    response = api.post(URL, {"text": text, "payment_id": str(payment.pk)}, format="json")

    data = response.json()["data"]
    assert response.status_code == 201 and data["status"] == "review", data
    assert reason in data["reason"]
    payment.refresh_from_db()
    assert payment.applied_amount == Decimal("0.00")
    assert sum(i.amount - i.amount_due for i in Invoice.objects.filter(organization=org)) == 0


def test_an_advice_naming_an_unknown_invoice_has_its_known_lines_applied(api, org, book):
    payment = make_payment(org, amount="550.00")
    response = api.post(
        URL,
        {"text": "Invoice 1001 500.00\nInvoice 9999 50.00", "payment_id": str(payment.pk)},
        format="json",
    )

    data = response.json()["data"]
    assert response.status_code == 201 and data["status"] == "review", data
    assert "9999: no open invoice" in data["reason"] and "50.00 is left" in data["reason"]
    assert [line["status"] for line in data["lines"]] == ["applied", "unknown"]
    payment.refresh_from_db()
    assert (payment.applied_amount, payment.unapplied_amount) == (
        Decimal("500.00"),
        Decimal("50.00"),
    )
    assert Invoice.objects.get(invoice_number="INV-1001").amount_due == Decimal("0.00")


def test_an_advice_naming_only_unknown_invoices_moves_nothing(api, org, book):
    payment = make_payment(org, amount="50.00")
    response = api.post(
        URL, {"text": "Invoice 9999 50.00", "payment_id": str(payment.pk)}, format="json"
    )
    data = response.json()["data"]
    assert data["status"] == "review" and "9999: no open invoice" in data["reason"]
    payment.refresh_from_db()
    assert payment.applied_amount == Decimal("0.00")


def test_advice_with_no_payment_yet_waits_unlinked(api, book):
    response = api.post(URL, {"text": "Invoice 1001 500.00"}, format="json")
    data = response.json()["data"]
    assert data["status"] == "unlinked" and data["payment_id"] is None
    assert "no unmatched payment of 500.00" in data["reason"]


@pytest.mark.parametrize(
    ("body", "fmt", "field"),
    [
        ({}, "json", "file"),
        ({"text": "hello, nothing here"}, "json", "text"),
        ({"text": "Invoice 1001 5.00", "payment_id": "not-a-uuid"}, "json", "payment_id"),
        (
            {"text": "Invoice 1001 5.00", "payment_id": "00000000-0000-0000-0000-000000000000"},
            "json",
            "payment_id",
        ),
        ({"file": SimpleUploadedFile("a.csv", b"Name,Street\nAcme,Main\n")}, "multipart", "file"),
        (
            {
                "file": SimpleUploadedFile(
                    "a.jpg", b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01 1001 5.00"
                )
            },
            "multipart",
            "file",
        ),
        ({"text": "Invoice 1001 5.00\u0000"}, "json", "text"),
    ],
)
def test_bad_input_is_a_400_naming_the_field(api, book, body, fmt, field):
    response = api.post(URL, body, format=fmt)
    assert response.status_code == 400, response.content
    assert field in response.json()["error"]["fields"], response.json()


def test_another_organizations_advice_and_payment_are_not_found(api, other_api, org, book):
    payment = make_payment(org, amount="500.00")
    created = api.post(URL, {"text": "Invoice 1001 500.00"}, format="json").json()["data"]
    assert other_api.get(f"{URL}/{created['id']}").status_code == 404
    response = other_api.post(
        URL, {"text": "Invoice 1001 500.00", "payment_id": str(payment.pk)}, format="json"
    )
    assert response.status_code == 400
    assert "payment_id" in response.json()["error"]["fields"]


def test_the_clerk_sees_the_advice_next_to_the_payment(api, org, book):
    from django.test import Client

    from arpilot import services as org_services

    payment = make_payment(org, amount="550.00")
    api.post(
        URL,
        {"text": "Invoice 1001 500.00\nInvoice 9999 50.00", "payment_id": str(payment.pk)},
        format="json",
    )
    user = org_services.user_create(username="clara", password="correct-horse-battery")
    org_services.membership_add(organization=org, user=user)
    client = Client()
    client.force_login(user)
    page = client.get(f"/payments/{payment.pk}/").content.decode()

    assert "Remittance advice" in page
    assert "Needs a clerk" in page and "9999: no open invoice has that number" in page
    assert "INV-1001" in page
