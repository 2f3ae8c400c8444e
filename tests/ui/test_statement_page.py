"""The clerk's statement of account page (``/invoices/customers/<id>/statement/``): a from/to
form, the lines with the running balance, totals, aging on ``to`` and a "Download PDF" link;
the money in the organization's currency; a fixed number of queries. Then the same in a real
browser, PDF download included."""

import io
import re
from datetime import timedelta
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone
from pypdf import PdfReader

from receivables import services
from tests.factories import CustomerFactory
from tests.receivables.factories import make_invoice
from tests.ui.browser_kit import BROWSER_MARKS, expect, sign_in

TODAY = timezone.localdate()


def ago(days: int):
    return TODAY - timedelta(days=days)


def page_url(customer) -> str:
    return reverse("receivables:customer-statement", args=[customer.pk])


def text(response) -> str:
    return re.sub(r"\s+", " ", response.content.decode()).strip()


def book_customer(org, *, invoices: int = 1):
    """Acme Corp: an old invoice of 500.00 (paid 100.00 before the period) and ``invoices``
    recent ones of 80.00, the first 30.00 paid."""
    customer = CustomerFactory(organization=org, company_name="Acme Corp")
    old = make_invoice(org, customer=customer, amount="500.00", issue_date=ago(150),
                       due_date=ago(120), invoice_number="INV-OLD")  # fmt: skip
    services.invoice_apply_payment(invoice=old, amount=Decimal("100.00"), received_date=ago(140))
    for index in range(invoices):
        recent = make_invoice(org, customer=customer, amount="80.00", issue_date=ago(20),
                              invoice_number=f"INV-NEW-{index}")  # fmt: skip
        if index == 0:
            services.invoice_apply_payment(
                invoice=recent, amount=Decimal("30.00"), received_date=ago(5)
            )
    return customer


# --- the page ----------------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_statement_page_shows_lines_totals_aging_and_the_pdf_link(ui, org):
    customer = book_customer(org)

    response = ui.get(page_url(customer))

    assert response.status_code == 200
    body = text(response)
    assert "Statement of account" in body
    assert f'value="{ago(90).isoformat()}"' in body and f'value="{TODAY.isoformat()}"' in body
    assert "data-opening>$400.00" in re.sub(r"<span class=\"money\">|</span>", "", body)
    assert "Invoice issued" in body and "INV-NEW-0" in body and "Payment applied" in body
    assert "$80.00" in body and "$30.00" in body
    assert body.count("$450.00") >= 3  # the closing stat, the closing row, the aging total
    assert '<tr data-bucket="90+"><th scope="row">90+ days</th><td class="num">1</td>' in body
    pdf_link = (
        f"{page_url(customer)}?from={ago(90).isoformat()}&amp;to={TODAY.isoformat()}&amp;format=pdf"
    )
    assert f'href="{pdf_link}"' in body and "Download PDF" in body
    assert "INV-OLD" not in body.split("Activity")[1].split("Aging")[0]  # before the period


@pytest.mark.django_db
def test_the_period_comes_from_the_form(ui, org):
    customer = book_customer(org)

    response = ui.get(page_url(customer), {"from": ago(200).isoformat(), "to": ago(10).isoformat()})

    body = text(response)
    assert response.status_code == 200
    assert "INV-OLD" in body and "Payment applied" in body
    assert body.count("Payment applied") == 1  # the recent payment is after `to`
    assert f'{ago(200).isoformat()}</span> to <span class="date">{ago(10).isoformat()}' in body


@pytest.mark.django_db
def test_money_is_in_the_organizations_currency(ui, org):
    org.currency = "EUR"
    org.save()
    customer = book_customer(org)

    body = text(ui.get(page_url(customer)))

    assert "€450.00" in body and "$" not in body.split("<main")[1]


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("query", "field", "message"),
    [
        ({"from": "2024-02-30"}, "from", "Enter a date as YYYY-MM-DD."),
        ({"to": "tomorrow"}, "to", "Enter a date as YYYY-MM-DD."),
        (
            {"from": "2024-05-02", "to": "2024-05-01"},
            "from",
            "Must be on or before to (2024-05-01).",
        ),
    ],
)
def test_a_bad_date_shows_the_form_with_the_error(ui, org, query, field, message):
    customer = book_customer(org)

    response = ui.get(page_url(customer), query)

    assert response.status_code == 400
    body = text(response)
    assert f'<p class="field-error" id="s-{field}-error">{message}</p>' in body
    assert f'aria-describedby="s-{field}-error"' in body
    assert "Download PDF" not in body and "Closing balance" not in body


@pytest.mark.django_db
def test_the_pdf_link_answers_the_pdf(ui, org):
    customer = book_customer(org)

    response = ui.get(page_url(customer), {"format": "pdf"})

    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"].startswith('attachment; filename="statement-')
    reader = PdfReader(io.BytesIO(response.content))
    pdf = " ".join(page.extract_text() for page in reader.pages)
    assert "Acme Corp" in pdf and "$450.00" in pdf and "INV-NEW-0" in pdf


@pytest.mark.django_db
def test_another_organizations_customer_is_a_404(ui, other_org):
    stranger = CustomerFactory(organization=other_org)

    assert ui.get(page_url(stranger)).status_code == 404
    assert ui.get(page_url(stranger), {"format": "pdf"}).status_code == 404


@pytest.mark.django_db
def test_the_page_needs_sign_in(client, org):
    customer = CustomerFactory(organization=org)

    response = client.get(page_url(customer))

    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


@pytest.mark.django_db
@pytest.mark.parametrize("invoices", [1, 8])
def test_the_page_query_count_does_not_grow_with_rows(ui, org, invoices, django_assert_num_queries):
    customer = book_customer(org, invoices=invoices)

    # session, user, memberships; the customer; the journal lines
    with django_assert_num_queries(5):
        response = ui.get(page_url(customer))

    assert response.status_code == 200


# --- in a browser ---------------------------------------------------------------------------


def in_browser(test):
    """The browser marks (``BROWSER_MARKS``) on one test of this module."""
    for mark in BROWSER_MARKS:
        test = mark(test)
    return test


@in_browser
@pytest.mark.django_db(transaction=True)
def test_a_clerk_reads_a_statement_and_downloads_it(page, live_server, clerk_book):
    from customers.models import Customer

    acme = Customer.objects.get(company_name="Acme Widgets")
    base = live_server.url
    sign_in(page, base)

    page.goto(base + page_url(acme))
    expect(page.get_by_role("heading", name="Statement of account")).to_be_visible()
    expect(page.locator("[data-closing]")).to_have_text("$100.00")

    # the book's invoices were issued ten days ago: a period of the last five days has none
    page.get_by_label("From", exact=True).fill(ago(5).isoformat())
    page.get_by_label("To", exact=True).fill(TODAY.isoformat())
    page.get_by_role("button", name="Show statement").click()
    expect(page).to_have_url(re.compile(rf"from={ago(5).isoformat()}&to={TODAY.isoformat()}"))
    table = page.get_by_role("region", name="Statement lines")
    expect(table).to_contain_text("No activity in this period.")
    expect(page.locator("[data-opening]")).to_have_text("$100.00")

    page.get_by_label("From", exact=True).fill(ago(10).isoformat())
    page.get_by_role("button", name="Show statement").click()
    expect(table.locator('tr[data-line-type="invoice"]')).to_have_count(1)
    expect(table).to_contain_text("INV-1001")
    expect(page.locator("[data-opening]")).to_have_text("$0.00")

    with page.expect_download() as download_info:
        page.get_by_role("link", name=re.compile("Download PDF")).click()
    download = download_info.value
    assert download.suggested_filename == (
        f"statement-C-1-{ago(10).isoformat()}-{TODAY.isoformat()}.pdf"
    )
    printed = PdfReader(download.path()).pages[0].extract_text()
    assert "Acme Widgets" in printed and "INV-1001" in printed and "$100.00" in printed
