"""The dashboard's "awaiting approval, by kind" in the base currency: each pending accounting
change's amount at its rate (an invoice's change at the invoice's booked rate, a payment's at
the rate table's rate on the payment date, a credit note against no invoice at the note's),
never amounts of different currencies added together, with the amounts per currency listed;
a change with no rate is listed under its currency and left out of the base total."""

from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from credits.models import CreditNote
from credits.services import credit_notes
from payments import services as payment_services
from reconciliation.dashboard import change_summary_rows
from reconciliation.models import AccountingChange
from tests.factories import CustomerFactory, make_change, make_invoice, make_payment
from tests.receivables.test_aging_currencies import clerk_client, foreign_invoice, rate

pytestmark = pytest.mark.django_db
D = Decimal
URL = reverse("reconciliation:dashboard")


def _pending(org) -> dict:
    response = clerk_client(org).get(URL)
    assert response.status_code == 200
    rows = response.context["changes"]["pending_by_type"]
    return {row["change_type"]: row for row in rows}, response.content.decode()


def _by_currency(row) -> dict:
    return {c["currency"]: (c["count"], c["total"], c["total_base"]) for c in row["currencies"]}


def test_base_only_changes_add_up_as_before(org):
    make_invoice(org, amount="100.00")
    make_invoice(org, amount="50.00")

    rows, html = _pending(org)

    created = rows["invoice_created"]
    assert (created["count"], created["total"], created["foreign"]) == (2, D("150.00"), False)
    assert _by_currency(created) == {"USD": (2, D("150.00"), D("150.00"))}
    assert "data-kind-currencies" not in html


def test_invoices_in_another_currency_count_at_their_booked_rate(org):
    make_invoice(org, amount="100.00")
    foreign_invoice(org, currency="EUR", amount="200.00", booked="1.10")
    foreign_invoice(org, currency="JPY", amount="1000", booked="0.0067")

    rows, html = _pending(org)

    created = rows["invoice_created"]
    assert created["total"] == D("326.70")  # 100 + 220 + 6.70, never 1300
    assert _by_currency(created) == {
        "USD": (1, D("100.00"), D("100.00")),
        "EUR": (1, D("200.00"), D("220.00")),
        "JPY": (1, D("1000"), D("6.70")),
    }
    assert [c["currency"] for c in created["currencies"]] == ["USD", "EUR", "JPY"]
    assert "data-kind-currencies" in html
    assert "€200.00 = $220.00" in html
    assert "¥1,000 = $6.70" in html


def test_a_payment_counts_in_its_currency_at_the_rate_of_its_date(org):
    customer = CustomerFactory(organization=org)
    day = timezone.localdate() - timedelta(days=2)
    rate(org, "EUR", day - timedelta(days=30), "1.00")
    invoice = foreign_invoice(
        org, currency="EUR", amount="100.00", booked="1.10", customer=customer
    )
    rate(org, "EUR", day, "1.20")  # the payment date's rate, not the invoice's
    payment = make_payment(org, amount="100.00", currency="EUR", payment_date=day)
    payment_services.payment_update(organization=org, payment_id=payment.pk, invoice_id=invoice.pk)

    rows, _ = _pending(org)

    applied = rows["payment_applied"]
    assert _by_currency(applied) == {"EUR": (1, D("100.00"), D("120.00"))}
    assert applied["total"] == D("120.00")


def test_a_change_with_no_rate_is_listed_and_left_out_of_the_base_total(org):
    make_invoice(org, amount="10.00")
    foreign_invoice(org, currency="GBP", amount="70.00", booked=None)

    rows, html = _pending(org)

    created = rows["invoice_created"]
    assert (created["total"], created["unrated_count"]) == (D("10.00"), 1)
    assert _by_currency(created)["GBP"] == (1, D("70.00"), D("0.00"))
    assert "£70.00 (no rate)" in html


def test_a_credit_note_against_no_invoice_counts_at_the_notes_rate(org):
    customer = CustomerFactory(organization=org)
    rate(org, "EUR", date(2000, 1, 1), "1.50")
    credit_notes.credit_note_create(
        organization=org,
        customer=customer,
        currency="EUR",
        amount=D("10.00"),
        exchange_rate=D("1.25"),
        status=CreditNote.Status.POSTED,
    )

    rows, _ = _pending(org)

    assert _by_currency(rows["credit_note"]) == {"EUR": (1, D("10.00"), D("12.50"))}


def test_approved_and_failed_counts_stay_out_of_the_pending_amounts(org):
    invoice = make_invoice(org, amount="10.00")
    make_change(org, invoice=invoice, status="approved", amount="99.00")
    make_change(org, invoice=invoice, status="failed", amount="99.00")

    rows = {row["change_type"]: row for row in change_summary_rows(organization=org)}

    created = rows["invoice_created"]
    assert (created["pending_count"], created["pending_total"]) == (1, D("10.00"))
    assert (created["approved_count"], created["failed_count"]) == (1, 1)
    assert AccountingChange.objects.for_org(org).count() == 3


def test_another_organizations_changes_stay_out(org, other_org):
    foreign_invoice(other_org, currency="EUR", amount="500.00", booked="1.10")
    make_invoice(org, amount="10.00")

    rows, _ = _pending(org)

    assert _by_currency(rows["invoice_created"]) == {"USD": (1, D("10.00"), D("10.00"))}


@pytest.mark.parametrize("currencies", [("EUR",), ("EUR", "GBP", "JPY", "CHF", "CAD")])
def test_the_dashboard_query_count_does_not_grow_with_kinds_or_currencies(
    org, currencies, django_assert_num_queries
):
    customer = CustomerFactory(organization=org)
    make_invoice(org, amount="10.00")
    for currency in currencies:
        foreign_invoice(org, currency=currency, amount="10", booked="2", customer=customer)
        foreign_invoice(org, currency=currency, amount="10", booked=None, customer=customer)
        payment = make_payment(org, amount="5", currency=currency)
        make_change(org, change_type="payment_applied", payment=payment, amount="5")
    client = clerk_client(org)

    with django_assert_num_queries(7):  # as pinned in tests/ui/test_query_counts.py
        response = client.get(URL)

    assert response.status_code == 200
    rows = {row["change_type"]: row for row in response.context["changes"]["pending_by_type"]}
    assert len(rows["invoice_created"]["currencies"]) == len(currencies) + 1
    assert len(rows["payment_applied"]["currencies"]) == len(currencies)
