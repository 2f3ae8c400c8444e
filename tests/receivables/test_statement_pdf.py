"""The statement as a PDF: ``Accept: application/pdf`` on the statement endpoint, drawn by
WeasyPrint from templates/receivables/statement_pdf.html, read back here with pypdf."""

import io
import re
from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone
from pypdf import PdfReader

from receivables import services, statement_pdf
from receivables.statements import customer_statement
from tests.factories import CustomerFactory
from tests.receivables.factories import make_invoice

pytestmark = pytest.mark.django_db

TODAY = timezone.localdate()
PDF = {"HTTP_ACCEPT": "application/pdf"}


def pdf_text(content: bytes) -> str:
    reader = PdfReader(io.BytesIO(content))
    return re.sub(r"\s+", " ", " ".join(page.extract_text() for page in reader.pages))


@pytest.fixture
def booked(org, customer):
    """Acme Corp: INV-PDF-1 of 1,250.00 issued ten days ago, 200.00 of it paid."""
    invoice = make_invoice(
        org,
        customer=customer,
        amount="1250.00",
        invoice_number="INV-PDF-1",
        issue_date=TODAY - timedelta(days=10),
    )
    services.invoice_apply_payment(
        invoice=invoice, amount=Decimal("200.00"), received_date=TODAY - timedelta(days=3)
    )
    return invoice


def test_accept_pdf_answers_the_statement_as_a_pdf(api, customer, booked):
    start = (TODAY - timedelta(days=30)).isoformat()

    response = api.get(f"/api/v1/customers/{customer.pk}/statement?from={start}", **PDF)

    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"] == (
        f'attachment; filename="statement-{customer.external_id}-{start}-{TODAY.isoformat()}.pdf"'
    )
    assert response.content.startswith(b"%PDF-")
    text = pdf_text(response.content)
    assert "Acme Corp" in text
    assert "Statement of account" in text
    assert "Closing balance" in text and "$1,050.00" in text
    assert "INV-PDF-1" in text and "Invoice issued" in text and "$1,250.00" in text
    assert "Payment applied" in text and "$200.00" in text
    assert "Acme Receivables" in text  # the organization it comes from


def test_format_pdf_in_the_query_answers_the_pdf_too(api, customer, booked):
    response = api.get(f"/api/v1/customers/{customer.pk}/statement?format=pdf")

    assert response.status_code == 200
    assert response.content.startswith(b"%PDF-")


def test_errors_are_json_when_the_pdf_was_asked_for(api, customer, other_customer):
    bad = api.get(f"/api/v1/customers/{customer.pk}/statement?from=someday", **PDF)
    missing = api.get(f"/api/v1/customers/{other_customer.pk}/statement", **PDF)

    assert bad.status_code == 400
    assert bad["Content-Type"] == "application/json"
    assert list(bad.json()["error"]["fields"]) == ["from"]
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "not_found"


def test_without_weasyprint_the_pdf_is_a_clear_503(api, customer, monkeypatch):
    def unavailable():
        raise statement_pdf.PdfUnavailable("PDF statements are not available on this server.")

    monkeypatch.setattr(statement_pdf, "_weasyprint", unavailable)

    response = api.get(f"/api/v1/customers/{customer.pk}/statement", **PDF)
    as_json = api.get(f"/api/v1/customers/{customer.pk}/statement")

    assert response.status_code == 503
    assert response["Content-Type"] == "application/json"
    assert "not available" in response.json()["error"]["message"]
    assert as_json.status_code == 200


def test_the_customers_own_text_is_printed_not_interpreted(org):
    customer = CustomerFactory(
        organization=org,
        company_name='<img src="file:///etc/passwd"> & Sons',
        address="<b>2 Side St</b>",
        external_id="C/9 ü",
    )
    make_invoice(org, customer=customer, amount="10.00")
    statement = customer_statement(
        organization=org, customer=customer, date_from=TODAY, date_to=TODAY
    )

    content = statement_pdf.statement_pdf(statement, organization_name=org.name)

    text = pdf_text(content)
    assert '<img src="file:///etc/passwd"> & Sons' in text
    assert "<b>2 Side St</b>" in text
    assert statement_pdf.statement_filename(statement) == (
        f"statement-C-9---{TODAY.isoformat()}-{TODAY.isoformat()}.pdf"
    )


def test_a_long_statement_runs_over_pages_with_the_header_repeated(org, customer):
    for index in range(60):
        make_invoice(org, customer=customer, amount="3.00", invoice_number=f"LONG-{index:03d}")
    statement = customer_statement(
        organization=org, customer=customer, date_from=TODAY, date_to=TODAY
    )

    content = statement_pdf.statement_pdf(statement, organization_name=org.name)

    reader = PdfReader(io.BytesIO(content))
    assert len(reader.pages) >= 2
    last = reader.pages[-1].extract_text()
    assert "DATE DESCRIPTION INVOICE CHARGES CREDITS BALANCE" in last  # the header repeats
    assert f"Page {len(reader.pages)} of {len(reader.pages)}" in last
    assert "$180.00" in pdf_text(content)
