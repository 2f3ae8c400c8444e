import uuid
from datetime import UTC, datetime, time, timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from dunning import services
from dunning.models import Promise
from tests.dunning.factories import (
    TODAY,
    customer_with_contacts,
    overdue_invoice,
    pay,
    subscriber,
)
from tests.factories import ContactFactory
from webhooks.models import WebhookEvent

pytestmark = pytest.mark.django_db

URL = "/api/v1/promises"


def _today():
    return datetime.now(UTC).date()


def _body(customer, invoices, **overrides):
    return {
        "customer_id": str(customer.pk),
        "invoice_ids": [str(invoice.pk) for invoice in invoices],
        "amount": "150.00",
        "promised_date": (_today() + timedelta(days=7)).isoformat(),
        "contact_id": str(customer.contacts.get(is_primary=True).pk),
        "note": "Said on the phone",
        **overrides,
    }


def test_create_and_read_a_promise(api, org, customer):
    a = overdue_invoice(org, customer, days_overdue=4)
    b = overdue_invoice(org, customer, days_overdue=5)

    response = api.post(URL, _body(customer, [a, b]), format="json")

    assert response.status_code == 201, response.json()
    data = response.json()["data"]
    assert data["status"] == "open"
    assert sorted(data["invoice_ids"]) == sorted([str(a.pk), str(b.pk)])
    assert data["amount"] == 150.0
    assert api.get(f"{URL}/{data['id']}").json()["data"] == data
    assert Promise.objects.get(pk=data["id"]).amount_due_at_promise == Decimal("200.00")


def _invalid_cases(org, other_org, customer):
    other_customer = customer_with_contacts(org)
    foreign = customer_with_contacts(other_org)
    invoice = overdue_invoice(org, customer, days_overdue=4)
    theirs = overdue_invoice(org, other_customer, days_overdue=4)
    stranger = ContactFactory(customer=other_customer)
    yesterday = (_today() - timedelta(days=1)).isoformat()
    return invoice, [
        ({"customer_id": str(foreign.pk)}, "customer_id"),
        ({"customer_id": "x"}, "customer_id"),
        ({"invoice_ids": []}, "invoice_ids"),
        ({"invoice_ids": [str(theirs.pk)]}, "invoice_ids"),
        ({"invoice_ids": [str(uuid.uuid4())]}, "invoice_ids"),
        ({"amount": "0"}, "amount"),
        ({"amount": "abc"}, "amount"),
        ({"promised_date": yesterday}, "promised_date"),
        ({"promised_date": "soon"}, "promised_date"),
        ({"contact_id": str(stranger.pk)}, "contact_id"),
    ]


def test_create_validation_names_the_field(api, org, other_org, customer):
    invoice, cases = _invalid_cases(org, other_org, customer)
    for change, field in cases:
        response = api.post(URL, _body(customer, [invoice], **change), format="json")

        assert response.status_code == 400, change
        assert field in response.json()["error"]["fields"], (change, response.json())
    assert Promise.objects.count() == 0


def test_an_invoice_in_an_open_promise_cannot_be_promised_again(api, org, customer):
    invoice = overdue_invoice(org, customer, days_overdue=4)
    api.post(URL, _body(customer, [invoice]), format="json")

    response = api.post(URL, _body(customer, [invoice]), format="json")

    assert response.status_code == 400
    assert "invoice_ids" in response.json()["error"]["fields"]


def test_patch_changes_and_cancels_an_open_promise(api, org, customer):
    invoice = overdue_invoice(org, customer, days_overdue=4)
    promise_id = api.post(URL, _body(customer, [invoice]), format="json").json()["data"]["id"]

    changed = api.patch(f"{URL}/{promise_id}", {"amount": "80.00", "note": "less"}, format="json")
    cancelled = api.patch(f"{URL}/{promise_id}", {"status": "cancelled"}, format="json")
    again = api.patch(f"{URL}/{promise_id}", {"note": "x"}, format="json")

    assert changed.status_code == 200
    assert changed.json()["data"]["amount"] == 80.0
    assert cancelled.json()["data"]["status"] == "cancelled"
    assert again.status_code == 409
    assert len(services.dunning_plan(organization=org)) == 1  # back in dunning


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"status": "kept"}, "status"),
        ({"amount": "-5"}, "amount"),
        ({"promised_date": "2000-01-01"}, "promised_date"),
    ],
)
def test_patch_validation_names_the_field(api, org, customer, change, field):
    invoice = overdue_invoice(org, customer, days_overdue=4)
    promise_id = api.post(URL, _body(customer, [invoice]), format="json").json()["data"]["id"]

    response = api.patch(f"{URL}/{promise_id}", change, format="json")

    assert response.status_code == 400
    assert field in response.json()["error"]["fields"]


def test_other_organizations_get_404(api, other_api, org, customer):
    invoice = overdue_invoice(org, customer, days_overdue=4)
    promise_id = api.post(URL, _body(customer, [invoice]), format="json").json()["data"]["id"]

    assert other_api.get(f"{URL}/{promise_id}").status_code == 404
    assert other_api.patch(f"{URL}/{promise_id}", {"note": "x"}, format="json").status_code == 404
    assert other_api.get(URL).json()["data"] == []


def test_list_filters(api, org, customer):
    invoice = overdue_invoice(org, customer, days_overdue=4)
    api.post(URL, _body(customer, [invoice]), format="json")

    assert len(api.get(URL, {"status": "open"}).json()["data"]) == 1
    assert api.get(URL, {"status": "kept"}).json()["data"] == []
    assert len(api.get(URL, {"invoice_id": str(invoice.pk)}).json()["data"]) == 1
    assert api.get(URL, {"customer_id": str(uuid.uuid4())}).json()["data"] == []
    assert api.get(URL, {"status": "late"}).status_code == 400


@pytest.mark.parametrize("count", [1, 4])
def test_list_query_count_is_constant(api, org, count):
    for _ in range(count):
        customer = customer_with_contacts(org)
        invoices = [overdue_invoice(org, customer, days_overdue=4) for _ in range(2)]
        api.post(URL, _body(customer, invoices), format="json")

    with CaptureQueriesContext(connection) as captured:
        response = api.get(URL)

    assert len(response.json()["data"]) == count
    # the API key, the count, the page, the promises' invoices
    assert len(captured) == 4


# --- kept and broken, in the organization's time zone ----------------------------------------


def _promise(org, customer, invoices, promised_date, amount="100.00"):
    promise = services.promise_create(
        organization=org,
        customer_id=customer.pk,
        invoice_ids=[i.pk for i in invoices],
        amount=Decimal(amount),
        # Two days ahead is "today or later" in every zone (Auckland is already tomorrow
        # from 11:00 UTC); the date the test wants is set afterwards.
        promised_date=_today() + timedelta(days=2),
    )
    Promise.objects.filter(pk=promise.pk).update(promised_date=promised_date)
    return promise


def _at(day, hour, minute=0):
    return datetime.combine(day, time(hour, minute), tzinfo=UTC)


def test_a_promise_breaks_the_day_after_its_date_in_the_organization_zone(org, customer):
    org.timezone = "Pacific/Auckland"  # UTC+13 in March
    org.save()
    subscriber(org)
    invoice = overdue_invoice(org, customer, days_overdue=4)
    promise = _promise(org, customer, [invoice], promised_date=TODAY)

    # 10:59 UTC on the 10th is 23:59 on the 10th in Auckland: still the promised day.
    assert services.promises_check(now=_at(TODAY, 10, 59)) == {"kept": 0, "broken": 0}
    # 11:00 UTC on the 10th is 00:00 on the 11th there: broken (UTC is still on the 10th).
    assert services.promises_check(now=_at(TODAY, 11, 0)) == {"kept": 0, "broken": 1}

    promise.refresh_from_db()
    assert promise.status == "broken"
    event = WebhookEvent.objects.get(event_type="promise.broken")
    assert event.payload["data"]["id"] == str(promise.pk)
    assert len(services.dunning_plan(organization=org, today=TODAY)) == 1  # dunning resumes


def test_a_promise_paid_in_full_is_kept(org, customer):
    subscriber(org)
    a = overdue_invoice(org, customer, days_overdue=4)
    b = overdue_invoice(org, customer, days_overdue=4)
    promise = _promise(org, customer, [a, b], promised_date=TODAY, amount="150.00")
    pay(a)
    assert services.promises_check(now=_at(TODAY, 9)) == {"kept": 0, "broken": 0}

    pay(b, "50.00")

    assert services.promises_check(now=_at(TODAY, 9)) == {"kept": 1, "broken": 0}
    promise.refresh_from_db()
    assert promise.status == "kept"
    assert WebhookEvent.objects.filter(event_type="promise.kept").count() == 1
    assert services.promises_check(now=_at(TODAY, 10)) == {"kept": 0, "broken": 0}


def test_a_payment_short_of_the_promise_breaks_it(org, customer):
    invoice = overdue_invoice(org, customer, days_overdue=4)
    _promise(org, customer, [invoice], promised_date=TODAY)
    pay(invoice, "99.99")

    counts = services.promises_check(now=_at(TODAY + timedelta(days=1), 1))

    assert counts == {"kept": 0, "broken": 1}


def test_the_daily_task_checks_promises(org, customer):
    from dunning import tasks

    invoice = overdue_invoice(org, customer, days_overdue=4)
    _promise(org, customer, [invoice], promised_date=_today() - timedelta(days=2))

    assert tasks.promises_check_task() == {"kept": 0, "broken": 1}
