from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from customers.models import CustomerTag
from dunning import services
from dunning.models import CustomerNote, Promise, PromiseInvoice
from tests.dunning.factories import (
    broken_promise,
    customer_with_contacts,
    org_today,
    overdue_for,
    overdue_invoice,
    sent_reminder,
)
from tests.factories import TagFactory

pytestmark = pytest.mark.django_db

URL = "/api/v1/collections/worklist"
# The API key + the count and the page.
WORKLIST_QUERIES = 3


def _rows(api, **params):
    response = api.get(URL, params)
    assert response.status_code == 200, response.json()
    return response.json()


def test_figures_and_order(api, org, other_org):
    big = customer_with_contacts(org, company_name="Big")
    small = customer_with_contacts(org, company_name="Small")
    quiet = customer_with_contacts(org, company_name="Not overdue")
    overdue_for(org, big, 60, "3000.00")
    old = overdue_for(org, big, 30, "600.00")
    overdue_for(org, small, 10, "90.00")
    overdue_invoice(org, quiet, days_overdue=-5, today=org_today(org))  # not due yet
    broken_promise(org, big, old)
    sent_reminder(org, big, days_ago=2)
    sent_reminder(org, big, days_ago=200)  # outside the 90 days (but still a contact)
    overdue_for(other_org, customer_with_contacts(other_org), 90, "9999.00")

    body = _rows(api)
    rows = body["data"]
    assert [row["customer_name"] for row in rows] == ["Big", "Small"]
    assert body["pagination"]["total"] == 2
    first = rows[0]
    assert first["overdue_total"] == 3600.0
    # 3000 * 60 / 30 + 600 * 30 / 30
    assert first["overdue_weighted"] == 6600.0
    assert first["oldest_days_overdue"] == 60
    assert first["broken_promises"] == 1
    assert first["reminders_sent"] == 1
    assert first["days_since_last_contact"] == 2
    assert first["open_promise"] is False
    # 6600 / 100 + 25 * 1 + 2 + 5 * 1
    assert first["priority"] == 98.0
    assert any("broken promise" in reason for reason in first["priority_reasons"])
    second = rows[1]
    assert second["days_since_last_contact"] is None
    assert "never contacted" in second["priority_reasons"]
    # 90 * 10 / 30 = 30 -> 0.3 + 30 (never contacted)
    assert second["overdue_weighted"] == 30.0
    assert second["priority"] == 30.3


def test_notes_count_as_contact_and_open_promise_lowers(api, org):
    customer = customer_with_contacts(org)
    invoice = overdue_for(org, customer, 15, "100.00")
    CustomerNote.objects.create(organization=org, customer=customer, kind="call", body="Rang")
    promise = Promise.objects.create(
        organization=org,
        customer=customer,
        amount=Decimal("50.00"),
        promised_date=org_today(org) + timedelta(days=5),
        amount_due_at_promise=Decimal("100.00"),
    )
    PromiseInvoice.objects.create(organization=org, promise=promise, invoice=invoice)

    row = _rows(api)["data"][0]

    assert row["days_since_last_contact"] == 0
    assert row["open_promise"] is True
    assert row["priority"] == 0.0  # 0.5 + 0 - 20, never below 0


def test_disputed_invoices_are_left_out(api, org):
    customer = customer_with_contacts(org)
    invoice = overdue_for(org, customer, 15)
    services.dispute_open(organization=org, invoice_id=invoice.pk, reason_code="pricing")
    assert _rows(api)["data"] == []


def test_filters(api, org):
    tagged = customer_with_contacts(org, company_name="Tagged")
    other = customer_with_contacts(org, company_name="Other")
    overdue_for(org, tagged, 10, "50.00")
    overdue_for(org, other, 10, "500.00")
    tag = TagFactory(organization=org)
    CustomerTag.objects.create(customer=tagged, tag=tag)

    assert [r["customer_name"] for r in _rows(api, tag_id=str(tag.pk))["data"]] == ["Tagged"]
    assert [r["customer_name"] for r in _rows(api, min_overdue="100")["data"]] == ["Other"]
    for params, field in [({"min_overdue": "abc"}, "min_overdue"), ({"tag_id": "x"}, "tag_id")]:
        response = api.get(URL, params)
        assert response.status_code == 400
        assert field in response.json()["error"]["fields"], response.json()


def _count_queries(api):
    with CaptureQueriesContext(connection) as queries:
        response = api.get(URL, {"per_page": 100})
    assert response.status_code == 200
    return len(queries), len(response.json()["data"])


def _customers(org, count):
    for _ in range(count):
        customer = customer_with_contacts(org)
        invoice = overdue_for(org, customer, 20)
        sent_reminder(org, customer, days_ago=1)
        broken_promise(org, customer, invoice)
        CustomerNote.objects.create(organization=org, customer=customer, body="x")


def test_query_count_does_not_grow(api, org):
    _customers(org, 2)
    few, rows = _count_queries(api)
    assert rows == 2
    _customers(org, 6)
    many, rows = _count_queries(api)
    assert rows == 8
    assert few == many == WORKLIST_QUERIES


def test_money_in_other_currencies_counts_at_its_booked_rate(api, org):
    from tests.factories import make_invoice

    customer = customer_with_contacts(org, company_name="Tokyo Trading")
    today = org_today(org)
    overdue_for(org, customer, 30, "100.00")
    make_invoice(
        org,
        customer=customer,
        amount="10000",
        currency="JPY",
        exchange_rate="0.0067",
        issue_date=today - timedelta(days=60),
        due_date=today - timedelta(days=30),
    )

    row = _rows(api)["data"][0]

    # 100.00 USD + 10,000 JPY booked at 0.0067 = 67.00 USD: 167.00, not 10,100
    assert row["overdue_total"] == 167.0
    assert row["overdue_weighted"] == 167.0
