"""The customer list's balances in the base currency: each open invoice's amount due at the
rate it was booked at (never amounts of different currencies added together), the amounts
per currency listed when a customer owes in another currency than the base or in several; an
open invoice with no booked rate is left out of the base balance and said so. One query more
for the page when any customer needs the breakdown, whatever the number of customers."""

from decimal import Decimal

import pytest
from django.urls import reverse

from receivables.models import Invoice
from tests.factories import CustomerFactory, make_invoice
from tests.receivables.test_aging_currencies import clerk_client, foreign_invoice

pytestmark = pytest.mark.django_db
D = Decimal
URL = reverse("customers:list")


def _rows(org, client=None):
    response = (client or clerk_client(org)).get(URL)
    assert response.status_code == 200
    return (
        {customer.company_name: customer for customer in response.context["customers"]},
        response.content.decode(),
    )


def test_a_base_only_customer_is_shown_as_before(org):
    customer = CustomerFactory(organization=org, company_name="Base Only")
    make_invoice(org, customer=customer, amount="100.00")
    make_invoice(org, customer=customer, amount="50.00")

    rows, html = _rows(org)

    row = rows["Base Only"]
    assert (row.booked_open_balance, row.open_by_currency) == (D("150.00"), [])
    assert "data-balance-currencies" not in html
    assert "$150.00" in html


def test_several_currencies_are_added_in_base_at_their_booked_rates_and_listed(org):
    customer = CustomerFactory(organization=org, company_name="Mixed Books")
    make_invoice(org, customer=customer, amount="100.00")
    foreign_invoice(org, customer=customer, currency="EUR", amount="200.00", booked="1.10")
    late = foreign_invoice(
        org, customer=customer, currency="JPY", amount="1000", booked="0.0067", due_in_days=-5
    )
    Invoice.objects.filter(pk=late.pk).update(status="overdue")

    rows, html = _rows(org)

    row = rows["Mixed Books"]
    assert row.booked_open_balance == D("326.70")  # 100 + 220 + 6.70, not 1,300
    assert row.booked_overdue_balance == D("6.70")
    assert [(r["currency"], r["open"], r["overdue"], r["count"]) for r in row.open_by_currency] == [
        ("USD", D("100.00"), D("0.00"), 1),
        ("EUR", D("200.00"), D("0.00"), 1),
        ("JPY", D("1000"), D("1000"), 1),
    ]
    assert "$326.70" in html and "data-balance-currencies" in html
    assert "€200.00" in html and "¥1,000" in html
    assert "$1,300.00" not in html


def test_one_foreign_currency_is_shown_in_base_and_named(org):
    customer = CustomerFactory(organization=org, company_name="Euro Only")
    foreign_invoice(org, customer=customer, currency="EUR", amount="10.00", booked="1.50")

    rows, html = _rows(org)

    row = rows["Euro Only"]
    assert row.booked_open_balance == D("15.00")
    assert [r["currency"] for r in row.open_by_currency] == ["EUR"]
    assert "$15.00" in html and "€10.00" in html


def test_an_invoice_with_no_booked_rate_is_left_out_and_counted(org):
    customer = CustomerFactory(organization=org, company_name="No Rate")
    make_invoice(org, customer=customer, amount="10.00")
    foreign_invoice(org, customer=customer, currency="GBP", amount="70.00", booked=None)

    rows, html = _rows(org)

    row = rows["No Rate"]
    assert (row.booked_open_balance, row.unrated_open_count) == (D("10.00"), 1)
    assert "+ 1 without a rate" in html


def test_paid_and_void_invoices_stay_out(org):
    customer = CustomerFactory(organization=org, company_name="Settled")
    paid = foreign_invoice(org, customer=customer, currency="EUR", amount="10.00", booked="2")
    Invoice.objects.filter(pk=paid.pk).update(status="paid", amount_due=D("0.00"))
    make_invoice(org, customer=customer, amount="5.00")

    rows, _ = _rows(org)

    assert (rows["Settled"].booked_open_balance, rows["Settled"].open_by_currency) == (
        D("5.00"),
        [],
    )


def test_another_organizations_invoices_stay_out(org, other_org):
    mine = CustomerFactory(organization=org, company_name="Mine")
    make_invoice(org, customer=mine, amount="10.00")
    theirs = CustomerFactory(organization=other_org, company_name="Theirs")
    foreign_invoice(other_org, customer=theirs, currency="EUR", amount="99.00", booked="1.1")

    rows, _ = _rows(org)

    assert set(rows) == {"Mine"}
    assert rows["Mine"].open_by_currency == []


@pytest.mark.parametrize("size", [1, 6])
def test_the_query_count_does_not_grow_with_customers_or_currencies(
    org, size, django_assert_num_queries
):
    client = clerk_client(org)
    for index in range(size):
        customer = CustomerFactory(organization=org, company_name=f"Customer {index:02d}")
        make_invoice(org, customer=customer, amount="10.00")
        for currency in ("EUR", "GBP")[: 1 + index % 2]:
            foreign_invoice(org, customer=customer, currency=currency, amount="10", booked="2")

    # The list's 8 (tests/ui/test_query_counts.py) and one for the page's breakdowns.
    with django_assert_num_queries(9):
        rows, _ = _rows(org, client)

    assert all(row.open_by_currency for row in rows.values())
    assert len(rows) == size
