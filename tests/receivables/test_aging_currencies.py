"""Aging in the base currency with a per-currency breakdown: each open invoice counts at the
rate it was booked at (``Invoice.exchange_rate``, else the organization's rate table on or
before its issue date), rounded to the base's places; an invoice with no rate is listed under
its currency and left out of the base totals, never added as if it were base money."""

from contextlib import contextmanager
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal

import pytest
from django.db import connection, transaction
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from arpilot import services as org_services
from arpilot.models import Membership
from receivables.models import ExchangeRate, Invoice
from receivables.views import aging_summary, booked_rate
from tests.factories import CustomerFactory, make_invoice

pytestmark = pytest.mark.django_db


@contextmanager
def _some_rate(org, currency: str, value: str):
    """A rate of ``currency`` while the block runs (invoice_create wants one for a foreign
    invoice and books it at that rate), gone after."""
    created = None
    if (
        currency != org.currency
        and not ExchangeRate.objects.for_org(org).filter(currency=currency).exists()
    ):
        created = ExchangeRate.objects.create(
            organization=org, currency=currency, date=date(2000, 1, 1), rate=Decimal(value)
        )
    try:
        yield
    finally:
        if created is not None:
            created.delete()


def invoice(org, *, amount: str, due_in_days: int = 30, **kwargs) -> Invoice:
    """An issued invoice, past due ones issued on their due date."""
    kwargs.setdefault("issue_date", timezone.localdate() + timedelta(days=min(due_in_days, 0)))
    return make_invoice(org, amount=amount, due_in_days=due_in_days, **kwargs)


def foreign_invoice(org, *, currency: str, amount: str, booked: str | None, **kwargs) -> Invoice:
    """An issued invoice in ``currency`` booked at ``booked`` (None: no rate on the invoice)."""
    with _some_rate(org, currency, booked or "1"):
        invoice_ = invoice(org, amount=amount, currency=currency, **kwargs)
    Invoice.objects.filter(pk=invoice_.pk).update(
        exchange_rate=Decimal(booked) if booked is not None else None
    )
    invoice_.refresh_from_db()
    return invoice_


def rate(org, currency: str, day: date, value: str) -> ExchangeRate:
    return ExchangeRate.objects.create(
        organization=org, currency=currency, date=day, rate=Decimal(value)
    )


def clerk_client(org) -> Client:
    user = org_services.user_create(username="h4clerk", password="correct-horse-battery")
    org_services.membership_add(organization=org, user=user, role=Membership.Role.CLERK)
    client = Client()
    client.force_login(user)
    return client


def _today():
    return timezone.localdate()


def _summary(org, invoices=None):
    invoices = Invoice.objects.for_org(org) if invoices is None else invoices
    return aging_summary(invoices, _today(), organization=org)


def _buckets(summary) -> dict:
    return {bucket["key"]: (bucket["total"], bucket["count"]) for bucket in summary["buckets"]}


# --- the summary --------------------------------------------------------------------------------


def test_a_base_only_organization_is_unchanged(org):
    make_invoice(org, amount="100.00")
    invoice(org, amount="40.00", due_in_days=-10)
    invoice(org, amount="25.50", due_in_days=-45)

    summary = _summary(org)

    assert summary["currency"] == "USD"
    assert summary["open_total"] == Decimal("165.50")
    assert summary["open_count"] == 3
    assert summary["overdue_total"] == Decimal("65.50")
    assert summary["overdue_count"] == 2
    assert _buckets(summary) == {
        "current": (Decimal("100.00"), 1),
        "1-30": (Decimal("40.00"), 1),
        "31-60": (Decimal("25.50"), 1),
        "61-90": (Decimal("0.00"), 0),
        "90+": (Decimal("0.00"), 0),
    }
    assert summary["foreign"] is False
    assert summary["unrated"] == []
    assert [row["currency"] for row in summary["currencies"]] == ["USD"]


def test_a_foreign_invoice_counts_at_its_booked_rate_with_a_breakdown(org):
    make_invoice(org, amount="100.00")
    foreign_invoice(org, currency="EUR", amount="200.00", booked="1.0825", due_in_days=-5)

    summary = _summary(org)

    assert summary["open_total"] == Decimal("316.50")  # 100 + 200 * 1.0825
    assert summary["overdue_total"] == Decimal("216.50")
    assert _buckets(summary)["current"] == (Decimal("100.00"), 1)
    assert _buckets(summary)["1-30"] == (Decimal("216.50"), 1)
    assert summary["foreign"] is True
    usd, eur = summary["currencies"]
    assert (usd["currency"], usd["open_total"], usd["open_base"]) == (
        "USD",
        Decimal("100.00"),
        Decimal("100.00"),
    )
    assert (eur["currency"], eur["open_total"], eur["open_base"]) == (
        "EUR",
        Decimal("200.00"),
        Decimal("216.50"),
    )
    assert eur["overdue_total"] == Decimal("200.00")
    assert {b["key"]: b["total"] for b in eur["buckets"]}["1-30"] == Decimal("200.00")
    assert eur["unrated_count"] == 0


def test_each_invoice_is_rounded_half_up_to_the_base_places(org):
    # 2.50 * 1.05 = 2.625 exactly: half up is 2.63 (half even would be 2.62), twice.
    foreign_invoice(org, currency="EUR", amount="2.50", booked="1.05")
    foreign_invoice(org, currency="EUR", amount="2.50", booked="1.05")

    summary = _summary(org)

    assert summary["open_total"] == Decimal("5.26")
    assert summary["currencies"][0]["open_total"] == Decimal("5.00")


def test_a_yen_base_has_no_decimals(org):
    org.currency = "JPY"
    org.save(update_fields=["currency"])
    make_invoice(org, amount="1000")
    foreign_invoice(org, currency="USD", amount="10.00", booked="151.37")

    summary = _summary(org)

    assert summary["open_total"] == Decimal("2514")  # 1000 + 1513.7 → 1514
    assert summary["currencies"][1]["open_base"] == Decimal("1514")


def test_without_a_booked_rate_the_table_rate_on_or_before_the_issue_date_is_used(org):
    today = _today()
    rate(org, "EUR", today - timedelta(days=30), "1.20")
    rate(org, "EUR", today - timedelta(days=3), "1.10")
    rate(org, "EUR", today + timedelta(days=1), "9.99")  # after issue: not the booked rate
    foreign_invoice(
        org, currency="EUR", amount="100.00", booked=None, issue_date=today - timedelta(days=10)
    )
    foreign_invoice(org, currency="EUR", amount="10.00", booked=None, issue_date=today)

    summary = _summary(org)

    assert summary["open_total"] == Decimal("131.00")  # 100 * 1.20 + 10 * 1.10
    assert summary["unrated"] == []


def test_the_booked_rate_wins_over_the_table(org):
    rate(org, "EUR", _today() - timedelta(days=1), "2.00")
    foreign_invoice(org, currency="EUR", amount="100.00", booked="1.10")

    assert _summary(org)["open_total"] == Decimal("110.00")


def test_a_foreign_invoice_with_no_rate_is_kept_out_of_the_base_total_and_listed(org):
    make_invoice(org, amount="100.00")
    foreign_invoice(org, currency="GBP", amount="80.00", booked=None, due_in_days=-40)
    foreign_invoice(org, currency="GBP", amount="20.00", booked="1.25")

    summary = _summary(org)

    assert summary["open_total"] == Decimal("125.00")  # 100 + 20 * 1.25, not + 80
    assert summary["open_count"] == 3
    assert summary["overdue_total"] == Decimal("0.00")
    assert _buckets(summary)["31-60"] == (Decimal("0.00"), 1)
    assert summary["unrated_count"] == 1
    (gbp,) = summary["unrated"]
    assert (gbp["currency"], gbp["unrated_count"], gbp["unrated_total"]) == (
        "GBP",
        1,
        Decimal("80.00"),
    )
    assert gbp["open_total"] == Decimal("100.00")
    assert gbp["open_base"] == Decimal("25.00")


def test_another_organizations_rates_are_not_used(org, other_org):
    other_org.currency = org.currency
    other_org.save(update_fields=["currency"])
    rate(other_org, "EUR", _today() - timedelta(days=1), "1.50")
    foreign_invoice(org, currency="EUR", amount="100.00", booked=None)

    summary = _summary(org)

    assert summary["open_total"] == Decimal("0.00")
    assert summary["unrated_count"] == 1


def test_the_rate_expression_reads_a_relation(org):
    today = _today()
    rate(org, "EUR", today, "1.30")
    eur = foreign_invoice(org, currency="EUR", amount="10.00", booked=None)
    base = make_invoice(org, amount="10.00")

    rates = dict(
        Invoice.objects.for_org(org).annotate(rate=booked_rate(org)).values_list("pk", "rate")
    )

    assert rates == {eur.pk: Decimal("1.30"), base.pk: Decimal("1")}


def test_the_summary_is_one_query_whatever_the_currencies(org, django_assert_num_queries):
    for currency in ("EUR", "GBP", "JPY", "CHF"):
        foreign_invoice(org, currency=currency, amount="10", booked="1.5")
        foreign_invoice(org, currency=currency, amount="20", booked=None, due_in_days=-70)
    make_invoice(org, amount="10.00")

    with django_assert_num_queries(1):
        summary = _summary(org)

    assert len(summary["currencies"]) == 5
    assert summary["open_total"] == Decimal("70.00")  # 10 + 4 * 15


# --- the pages -------------------------------------------------------------------------------


def test_the_customer_panel_shows_base_totals_and_each_currency(org):
    customer = CustomerFactory(organization=org)
    make_invoice(org, customer=customer, amount="100.00")
    foreign_invoice(org, customer=customer, currency="EUR", amount="50.00", booked="1.10")
    foreign_invoice(org, customer=customer, currency="GBP", amount="30.00", booked=None)
    client = clerk_client(org)

    response = client.get(reverse("receivables:customer-panel", args=[customer.pk]))

    assert response.status_code == 200
    summary = response.context["summary"]
    assert summary["open_total"] == Decimal("155.00")
    html = response.content.decode()
    assert 'data-currency="EUR"' in html and 'data-currency="GBP"' in html
    assert "no exchange rate" in html
    assert "€50.00" in html  # the invoice's own currency in the open-invoice list


def test_the_customer_panel_of_a_base_only_customer_has_no_currency_table(org):
    customer = CustomerFactory(organization=org)
    make_invoice(org, customer=customer, amount="100.00")

    response = clerk_client(org).get(reverse("receivables:customer-panel", args=[customer.pk]))

    assert response.context["summary"]["open_total"] == Decimal("100.00")
    assert "data-aging-currencies" not in response.content.decode()


def test_the_customer_panel_of_another_organization_is_a_404(org, other_org):
    customer = CustomerFactory(organization=other_org)

    response = clerk_client(org).get(reverse("receivables:customer-panel", args=[customer.pk]))

    assert response.status_code == 404


def test_the_invoice_list_totals_are_in_base_with_each_currency(org):
    make_invoice(org, amount="100.00")
    foreign_invoice(org, currency="EUR", amount="50.00", booked="1.10")
    foreign_invoice(org, currency="GBP", amount="30.00", booked=None)

    response = clerk_client(org).get(reverse("receivables:invoices"))

    totals = response.context["totals"]
    assert (totals["count"], totals["amount"], totals["amount_due"]) == (
        3,
        Decimal("155.00"),
        Decimal("155.00"),
    )
    assert totals["unrated_count"] == 1
    assert [(row["currency"], row["amount_due"]) for row in totals["currencies"]] == [
        ("USD", Decimal("100.00")),
        ("EUR", Decimal("50.00")),
        ("GBP", Decimal("30.00")),
    ]
    html = response.content.decode()
    assert "data-totals-currencies" in html and "data-unrated" in html
    assert "£30.00" in html  # the GBP invoice's row, in pounds


def test_the_invoice_list_of_a_base_only_organization_is_unchanged(org):
    make_invoice(org, amount="100.00")
    make_invoice(org, amount="7.00")

    response = clerk_client(org).get(reverse("receivables:invoices"))

    html = response.content.decode()
    assert "2 invoices · amount <span" in html
    assert response.context["totals"]["amount_due"] == Decimal("107.00")
    assert "data-totals-currencies" not in html and "data-unrated" not in html


def test_the_customer_page_never_adds_a_foreign_balance_to_the_base_one(org):
    customer = CustomerFactory(organization=org)
    make_invoice(org, customer=customer, amount="100.00")
    foreign_invoice(org, customer=customer, currency="EUR", amount="900.00", booked="1.10")

    response = clerk_client(org).get(reverse("customers:detail", args=[customer.pk]))

    assert response.status_code == 200
    assert response.context["customer"].base_open_balance == Decimal("100.00")
    html = response.content.decode()
    assert "Open balance (USD invoices)" in html
    assert "And 1 open invoice in another currency" in html


def test_the_customer_page_of_a_base_only_customer_is_unchanged(org):
    customer = CustomerFactory(organization=org)
    make_invoice(org, customer=customer, amount="100.00")

    html = clerk_client(org).get(reverse("customers:detail", args=[customer.pk])).content.decode()

    assert "Open balance</dt>" in html and "data-other-currencies" not in html


# --- deductions ---------------------------------------------------------------------------------


def _deduction(org, *, currency: str, booked: str | None, amount: str, reason: str = "pricing"):
    from credits import services as credit_services

    if currency == org.currency:
        target = make_invoice(org, amount="100.00")
    else:
        target = foreign_invoice(org, currency=currency, amount="100.00", booked=booked)
    return credit_services.deduction_open(
        organization=org, invoice_id=target.pk, amount=Decimal(amount), reason_code=reason
    )


def test_deduction_aging_is_by_reason_in_base_with_each_currency(api, org):
    _deduction(org, currency="USD", booked=None, amount="10.00")
    _deduction(org, currency="EUR", booked="1.10", amount="20.00")
    _deduction(org, currency="GBP", booked=None, amount="5.00")
    _deduction(org, currency="EUR", booked="1.10", amount="1.00", reason="freight")

    response = api.get("/api/v1/deductions/aging")

    assert response.status_code == 200
    rows = {row["reason_code"]: row for row in response.json()["data"]}
    pricing = rows["pricing"]
    assert (pricing["count"], pricing["total"], pricing["days_0_30"]) == (3, 32.0, 32.0)
    assert (pricing["currency"], pricing["unrated_count"]) == ("USD", 1)
    assert [(c["currency"], c["total"], c["total_base"]) for c in pricing["currencies"]] == [
        ("USD", 10.0, 10.0),
        ("EUR", 20.0, 22.0),
        ("GBP", 5.0, 0.0),
    ]
    total = rows[None]
    assert (total["count"], total["total"], total["unrated_count"]) == (4, 33.1, 1)
    assert [(c["currency"], c["count"], c["total"]) for c in total["currencies"]] == [
        ("USD", 1, 10.0),
        ("EUR", 2, 21.0),
        ("GBP", 1, 5.0),
    ]


def test_deduction_aging_of_a_base_only_organization_keeps_its_figures(api, org):
    _deduction(org, currency="USD", booked=None, amount="10.00")

    (pricing, total) = api.get("/api/v1/deductions/aging").json()["data"]

    assert (pricing["reason_code"], pricing["total"], pricing["days_0_30"]) == (
        "pricing",
        10.0,
        10.0,
    )
    assert (total["reason_code"], total["total"], total["unrated_count"]) == (None, 10.0, 0)


@pytest.mark.parametrize("currencies", [("EUR",), ("EUR", "GBP", "CHF", "JPY")])
def test_deduction_aging_is_one_query_whatever_the_currencies(
    api, org, currencies, django_assert_num_queries
):
    for currency in currencies:
        _deduction(org, currency=currency, booked="2", amount="1")
        _deduction(org, currency=currency, booked=None, amount="1", reason="freight")

    with django_assert_num_queries(2):  # the API key, the aging
        response = api.get("/api/v1/deductions/aging")

    assert response.status_code == 200
    assert len(response.json()["data"][-1]["currencies"]) == len(currencies)


# --- statements ---------------------------------------------------------------------------------


def test_a_statement_is_per_currency_in_the_invoices_own_money(api, org):
    customer = CustomerFactory(organization=org)
    make_invoice(org, customer=customer, amount="100.00")
    foreign_invoice(org, customer=customer, currency="EUR", amount="40.00", booked="1.10")

    response = api.get(f"/api/v1/customers/{customer.pk}/statement")

    assert response.status_code == 200, response.content
    data = response.json()["data"]
    assert (data["currency"], data["closing_balance"]) == ("USD", 100.0)
    (eur,) = data["other_currencies"]
    assert (eur["currency"], eur["closing_balance"]) == ("EUR", 40.0)
    assert [line["invoice_number"] for line in eur["lines"]] == [
        line["invoice_number"] for line in eur["lines"] if line["type"] == "invoice"
    ]
    assert sum(bucket["total"] for bucket in eur["aging"]) == 40.0
    assert sum(bucket["total"] for bucket in data["aging"]) == 100.0


def test_a_statement_of_a_base_only_customer_has_no_other_currencies(api, org):
    customer = CustomerFactory(organization=org)
    make_invoice(org, customer=customer, amount="100.00")

    data = api.get(f"/api/v1/customers/{customer.pk}/statement").json()["data"]

    assert (data["currency"], data["closing_balance"], data["other_currencies"]) == (
        "USD",
        100.0,
        [],
    )


def test_a_customer_billed_only_in_another_currency_gets_its_statement_in_it(api, org):
    customer = CustomerFactory(organization=org)
    foreign_invoice(org, customer=customer, currency="EUR", amount="40.00", booked="1.10")

    data = api.get(f"/api/v1/customers/{customer.pk}/statement").json()["data"]

    assert (data["currency"], data["closing_balance"], data["other_currencies"]) == (
        "EUR",
        40.0,
        [],
    )


def test_the_statement_page_shows_a_section_per_currency(org):
    customer = CustomerFactory(organization=org)
    make_invoice(org, customer=customer, amount="100.00")
    foreign_invoice(org, customer=customer, currency="EUR", amount="40.00", booked="1.10")

    response = clerk_client(org).get(reverse("receivables:customer-statement", args=[customer.pk]))

    html = response.content.decode()
    assert response.status_code == 200
    assert 'data-statement-currency="USD"' in html and 'data-statement-currency="EUR"' in html
    assert "€40.00" in html and "$100.00" in html


# --- the base total is the sum of each invoice's rounded base amount ----------------------------


class _Rollback(Exception):
    pass


_INVOICES = st.lists(
    st.tuples(
        st.sampled_from(["USD", "EUR", "JPY"]),
        st.integers(min_value=1, max_value=10_000_000),  # cents (JPY: yen)
        st.one_of(
            st.none(),
            st.decimals(min_value="0.0001", max_value="250", places=4, allow_nan=False),
        ),
        st.integers(min_value=-120, max_value=30),  # due in days
    ),
    min_size=1,
    max_size=5,
)


@pytest.mark.skipif(
    connection.vendor != "postgresql", reason="SQLite multiplies decimals as floats"
)
@settings(
    max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(invoices=_INVOICES)
def test_base_totals_are_each_invoices_amount_at_its_rate_rounded_half_up(org, invoices):
    expected_open, expected_unrated = Decimal("0.00"), 0
    buckets: dict[str, Decimal] = {}
    try:
        with transaction.atomic():
            for currency, units, booked, due_in_days in invoices:
                amount = Decimal(units) if currency == "JPY" else Decimal(units) / 100
                if currency == "USD":
                    invoice(org, amount=str(amount), due_in_days=due_in_days)
                    in_base = amount
                else:
                    foreign_invoice(
                        org,
                        currency=currency,
                        amount=str(amount),
                        booked=None if booked is None else str(booked),
                        due_in_days=due_in_days,
                    )
                    if booked is None:
                        expected_unrated += 1
                        continue
                    in_base = (amount * booked).quantize(Decimal("0.01"), ROUND_HALF_UP)
                expected_open += in_base
            summary = _summary(org)
            for bucket in summary["buckets"]:
                buckets[bucket["key"]] = bucket["total"]
            rows_base = sum((row["open_base"] for row in summary["currencies"]), Decimal(0))
            raise _Rollback
    except _Rollback:
        pass
    assert summary["open_total"] == expected_open
    assert summary["unrated_count"] == expected_unrated
    assert sum(buckets.values(), Decimal(0)) == expected_open
    assert rows_base == expected_open
