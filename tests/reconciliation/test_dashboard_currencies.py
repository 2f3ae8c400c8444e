"""The dashboard in the base currency: open AR, overdue, aging and DSO count each invoice at
its booked rate; a per-currency table when any open invoice is in another currency; an
invoice with no rate is shown under its currency and left out of the base totals."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from receivables import services
from tests.factories import make_invoice
from tests.receivables.test_aging_currencies import clerk_client, foreign_invoice, invoice, rate

pytestmark = pytest.mark.django_db

URL = reverse("reconciliation:dashboard")


def _get(org):
    response = clerk_client(org).get(URL)
    assert response.status_code == 200
    return response, response.context["summary"], response.content.decode()


def test_a_base_only_dashboard_is_unchanged(org):
    make_invoice(org, amount="100.00")
    invoice(org, amount="50.00", due_in_days=-3)

    _, summary, html = _get(org)

    assert summary["open_total"] == Decimal("150.00")
    assert summary["overdue_total"] == Decimal("50.00")
    assert summary["sales"] == Decimal("150.00")
    assert summary["dso"] == Decimal("90.0")
    assert "data-aging-currencies" not in html
    assert "data-unrated" not in html


def test_open_ar_overdue_aging_and_dso_are_in_base_with_a_row_per_currency(org):
    make_invoice(org, amount="100.00")
    foreign_invoice(org, currency="EUR", amount="200.00", booked="1.10", due_in_days=-5)
    # Paid off: in the sales (at its rate), not open.
    paid = foreign_invoice(org, currency="EUR", amount="100.00", booked="1.10")
    services.invoice_record_offline_payment(invoice=paid, amount=Decimal("100.00"))

    _, summary, html = _get(org)

    assert summary["open_total"] == Decimal("320.00")
    assert summary["overdue_total"] == Decimal("220.00")
    assert summary["sales"] == Decimal("430.00")  # 100 + 220 + 110
    assert summary["dso"] == (Decimal("320") / Decimal("430") * 90).quantize(Decimal("0.1"))
    assert {b["key"]: b["total"] for b in summary["buckets"]}["1-30"] == Decimal("220.00")
    assert "data-aging-currencies" in html
    assert 'data-currency="EUR"' in html and 'data-currency="USD"' in html
    assert "€200.00" in html  # the EUR row in euros
    assert "$220.00" in html  # … and in base


def test_a_foreign_invoice_with_no_rate_is_shown_and_left_out_of_the_totals(org):
    make_invoice(org, amount="100.00")
    foreign_invoice(org, currency="GBP", amount="70.00", booked=None, due_in_days=-1)

    _, summary, html = _get(org)

    assert summary["open_total"] == Decimal("100.00")
    assert summary["overdue_total"] == Decimal("0.00")
    assert summary["sales"] == Decimal("100.00")
    assert summary["open_count"] == 2
    assert "data-unrated" in html
    assert "1 open invoice in GBP (£70.00) has no exchange rate" in html
    assert "without an exchange rate, not in this total" in html
    assert 'data-currency="GBP"' in html


def test_a_table_rate_added_later_brings_it_into_the_totals(org):
    gbp = foreign_invoice(org, currency="GBP", amount="70.00", booked=None)
    rate(org, "GBP", gbp.issue_date - timedelta(days=1), "1.25")

    _, summary, html = _get(org)

    assert summary["open_total"] == Decimal("87.50")
    assert "data-unrated" not in html


@pytest.mark.parametrize("currencies", [("EUR",), ("EUR", "GBP", "JPY", "CHF", "CAD")])
def test_the_dashboard_query_count_does_not_grow_with_currencies(
    org, currencies, django_assert_num_queries
):
    make_invoice(org, amount="10.00")
    for currency in currencies:
        foreign_invoice(org, currency=currency, amount="10", booked="2")
        foreign_invoice(org, currency=currency, amount="10", booked=None, due_in_days=-100)
    client = clerk_client(org)

    with django_assert_num_queries(7):  # as pinned in tests/ui/test_query_counts.py
        response = client.get(URL)

    assert response.status_code == 200
    assert len(response.context["summary"]["currencies"]) == len(currencies) + 1


def test_the_dashboard_shows_only_the_clerks_organization(org, other_org):
    foreign_invoice(other_org, currency="EUR", amount="500.00", booked="1.10")
    make_invoice(org, amount="10.00")

    _, summary, html = _get(org)

    assert summary["open_total"] == Decimal("10.00")
    assert "data-aging-currencies" not in html
    assert timezone.localdate()  # the dashboard's today
