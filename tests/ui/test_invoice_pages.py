"""The invoice list through Django's test client: totals, sortable columns, the filters in
force as removable chips, errors in words, and the CSV export (streamed, scoped to the
organization and the filters, formula cells neutralised)."""

import csv
import io
import re
from datetime import date, timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from receivables.models import Invoice
from receivables.views import csv_cell
from tests.factories import CustomerFactory, make_invoice
from tests.ui.builders import book, customer_with_invoices, words

pytestmark = pytest.mark.django_db

LIST = reverse("receivables:invoices")
EXPORT = reverse("receivables:invoices-export")


def numbers_in_order(response) -> list[str]:
    return re.findall(r'<td><a href="/invoices/[^"]+">([^<]+)</a></td>', response.content.decode())


def exported(response) -> list[list[str]]:
    body = b"".join(response.streaming_content).decode()
    return list(csv.reader(io.StringIO(body)))


@pytest.fixture
def three(org):
    customer = CustomerFactory(organization=org, company_name="Sorting Supplies")
    today = timezone.localdate()
    for number, amount, due in [
        ("INV-B", "200.00", 9),
        ("INV-A", "50.00", 30),
        ("INV-C", "75.25", 2),
    ]:
        make_invoice(
            org,
            customer=customer,
            invoice_number=number,
            amount=amount,
            issue_date=today - timedelta(days=1),
            due_date=today + timedelta(days=due),
        )
    return customer


# --- totals and sorting ----------------------------------------------------------------------


def test_the_totals_are_of_every_invoice_that_matches_not_only_the_page(ui, org, three):
    page = words(ui.get(LIST + "?search=INV-"))

    assert "3 invoices · amount $325.25 · due $325.25" in page
    assert "Total of 3 matching $325.25 $325.25" in page


def test_a_column_sorts_ascending_then_descending(ui, org, three):
    by_amount = ui.get(LIST + "?sort=amount")
    assert numbers_in_order(by_amount) == ["INV-A", "INV-C", "INV-B"]
    html = by_amount.content.decode()
    assert (
        '<th scope="col" aria-sort="ascending" class="num"><a class="sort-link" '
        'href="?sort=-amount">Amount<span class="sr-only"> (sort descending)</span>'
    ) in html
    assert html.count("aria-sort=") == 1

    by_amount_down = ui.get(LIST + "?sort=-amount")
    assert numbers_in_order(by_amount_down) == ["INV-B", "INV-C", "INV-A"]
    assert 'aria-sort="descending"' in by_amount_down.content.decode()

    assert numbers_in_order(ui.get(LIST + "?sort=due")) == ["INV-C", "INV-B", "INV-A"]
    assert numbers_in_order(ui.get(LIST + "?sort=number")) == ["INV-A", "INV-B", "INV-C"]


def test_sort_links_keep_the_filters_and_drop_the_page(ui, org, three):
    html = ui.get(LIST + "?status=pending&page=1").content.decode()

    assert 'href="?status=pending&amp;sort=due"' in html


def test_an_unknown_sort_is_the_default_order(ui, org, three):
    response = ui.get(LIST + "?sort=drop_table")

    assert response.status_code == 200
    assert "aria-sort=" not in response.content.decode()


# --- filters in force, errors, dates, badges --------------------------------------------------


def test_hidden_filters_from_dashboard_links_show_as_removable_chips(ui, org):
    customer, _ = customer_with_invoices(org, 1)

    html = ui.get(LIST + f"?customer_id={customer.pk}&open=1").content.decode()

    assert (
        '<li class="chip" data-filter="customer_id">Customer: <strong>Customer 001 Holdings'
        '</strong> <a class="chip-remove" href="?open=1" '
        'aria-label="Remove filter Customer: Customer 001 Holdings">\u00d7</a></li>'
    ) in html
    assert (
        f'<a class="chip-remove" href="?customer_id={customer.pk}" '
        'aria-label="Remove filter Open only">\u00d7</a>'
    ) in html


def test_status_and_aging_chips_read_as_labels(ui, org):
    page = words(ui.get(LIST + "?status=partial&aging=31-60"))

    assert "Filters in force: Status: Partially paid \u00d7 Aging: 31\u201360 days \u00d7" in page


def test_no_filters_no_chips(ui, org):
    assert "Filters in force" not in words(ui.get(LIST))


def test_a_bad_date_filter_is_an_error_in_words_and_lists_nothing(ui, org):
    customer_with_invoices(org, 1)

    response = ui.get(LIST + "?due_date_to=2024-13-45")

    assert response.status_code == 200
    page = words(response)
    assert "Due date to: enter a valid date" in page
    assert "due_date_to" not in page
    assert "No invoices match." in page
    assert 'aria-invalid="true" aria-describedby="filter-errors"' in response.content.decode()


def test_every_filter_names_itself_in_words(ui, org):
    page = words(ui.get(LIST + "?amount_min=lots&customer_id=nope&status=late"))

    assert "Amount at least: enter a number" in page
    assert "Customer: enter a valid UUID" in page
    assert "Status: select a valid choice" in page


def test_dates_are_iso_and_pending_is_neutral(ui, org):
    make_invoice(
        org, invoice_number="INV-D", issue_date=date(2026, 3, 4), due_date=date(2099, 1, 2)
    )

    html = ui.get(LIST).content.decode()

    assert '<td class="date">2026-03-04</td>' in html
    assert '<td class="date">2099-01-02' in html
    assert '<span class="badge badge-not-due">Pending</span>' in html
    assert "badge-pending" not in html


# --- CSV export -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "cell"),
    [
        ('=HYPERLINK("http://evil")', '\'=HYPERLINK("http://evil")'),
        ("+1+1", "'+1+1"),
        ("-2+3", "'-2+3"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\tcmd", "'\tcmd"),
        ("\rcmd", "'\rcmd"),
        ("Plain text", "Plain text"),
        ("a=b", "a=b"),
        (None, ""),
        (date(2026, 1, 2), "2026-01-02"),
    ],
)
def test_csv_cells_that_a_spreadsheet_would_run_are_neutralised(value, cell):
    assert csv_cell(value) == cell


def test_the_export_streams_the_filtered_invoices_of_the_organization(ui, org, other_org, three):
    make_invoice(org, invoice_number="INV-PAID", amount="10.00")
    Invoice.objects.for_org(org).filter(invoice_number="INV-PAID").update(
        status="paid", amount_due=0
    )
    customer_with_invoices(other_org, 9)

    response = ui.get(EXPORT + "?open=1&sort=amount")

    assert response.status_code == 200
    assert response.streaming
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"].startswith('attachment; filename="invoices-')
    rows = exported(response)
    assert rows[0] == [
        "Invoice",
        "Customer",
        "Customer ID",
        "Issued",
        "Due",
        "Amount",
        "Amount due",
        "Status",
        "Notes",
    ]
    assert [row[0] for row in rows[1:]] == ["INV-A", "INV-C", "INV-B"]
    assert rows[1][1] == "Sorting Supplies"
    assert rows[1][5:8] == ["50.00", "50.00", "pending"]
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", rows[1][3])


def test_the_export_neutralises_formula_cells(ui, org):
    customer = CustomerFactory(organization=org, company_name="=cmd|' /C calc'!A0")
    make_invoice(org, customer=customer, invoice_number="@INV-1", notes="-1+2")

    rows = exported(ui.get(EXPORT))

    assert rows[1][0] == "'@INV-1"
    assert rows[1][1] == "'=cmd|' /C calc'!A0"
    assert rows[1][8] == "'-1+2"


def test_the_list_links_to_the_export_with_its_filters(ui, org):
    html = ui.get(LIST + "?status=overdue&sort=-due&page=2").content.decode()

    assert 'href="/invoices/export.csv?status=overdue&amp;sort=-due"' in html


def test_an_export_with_a_bad_filter_is_a_400_in_words(ui, org):
    response = ui.get(EXPORT + "?due_date_from=yesterday")

    assert response.status_code == 400
    assert response.content.decode() == "Due date from: enter a valid date\n"


def test_the_export_needs_sign_in(client):
    response = client.get(EXPORT)

    assert response.status_code == 302


# --- query counts ------------------------------------------------------------------------------


@pytest.mark.parametrize("size", [2, 6])
@pytest.mark.parametrize(
    ("query", "expected"),
    [
        # session, user, memberships; totals, count, page.
        ("?sort=-amount", 6),
        # … and the filtered customer's name for its chip.
        ("?customer_id={customer}&open=1", 7),
    ],
)
def test_the_invoice_list_query_count_does_not_grow_with_rows(
    ui, org, size, query, expected, django_assert_num_queries
):
    invoices = book(org, size)
    url = LIST + query.format(customer=invoices[0].customer_id)

    with django_assert_num_queries(expected):
        response = ui.get(url)

    assert response.status_code == 200


@pytest.mark.parametrize("size", [2, 6])
def test_the_export_query_count_does_not_grow_with_rows(ui, org, size, django_assert_num_queries):
    book(org, size)

    with django_assert_num_queries(4):
        rows = exported(ui.get(EXPORT))

    assert len(rows) == size + 1
