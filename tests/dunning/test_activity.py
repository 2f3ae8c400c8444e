import uuid
from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from dunning import services
from dunning.models import CustomerNote, Promise, Reminder
from mail.services import email_cancel, email_queue, email_send
from payments.services.allocations import allocation_apply
from receivables.services import statement_send
from tests.dunning.factories import customer_with_contacts, overdue_invoice
from tests.factories import ContactFactory, make_payment

pytestmark = pytest.mark.django_db

# The API key + the customer check + a count and a read for
# each of the eight sources.
ACTIVITY_QUERIES = 18


@pytest.fixture(autouse=True)
def _no_statement_pdf(monkeypatch):
    """Statement PDFs are small fakes (WeasyPrint is slow and may be missing)."""
    monkeypatch.setattr(
        "receivables.services.statements.statement_pdf",
        lambda statement, organization_name: b"%PDF-fake",
    )


def _statement(org, customer, *, send=True):
    """The customer's statement emailed (``statements_send``), and sent unless ``send`` is
    False."""
    with transaction.atomic():
        email = statement_send(organization=org, customer=customer)
    if send:
        assert email_send(email_id=email.pk) == "sent"
    return email


def _url(customer, what="activity"):
    return f"/api/v1/customers/{customer.pk}/{what}"


def _invoice(org, customer, days=10):
    return overdue_invoice(org, customer, days_overdue=days, today=services.organization_today(org))


def _timeline(org, customer):
    """One of each kind of event, oldest to newest (kept in this order by their times)."""
    invoice = _invoice(org, customer)
    other = _invoice(org, customer, days=20)
    Reminder.objects.create(
        organization=org,
        customer=customer,
        level=1,
        status=Reminder.Status.SENT,
        subject="Overdue",
        total=Decimal("100.00"),
        run_date=services.organization_today(org),
        sent_at=timezone.now(),
    )
    promise = services.promise_create(
        organization=org,
        customer_id=customer.pk,
        invoice_ids=[invoice.pk],
        amount=Decimal("10.00"),
        promised_date=services.organization_today(org) + timedelta(days=3),
    )
    services.promise_update(organization=org, promise_id=promise.pk, status="cancelled")
    services.dispute_open(organization=org, invoice_id=other.pk, reason_code="pricing")
    services.dispute_resolve(organization=org, invoice_id=other.pk, resolution="withdrawn")
    payment = make_payment(org, amount="40.00")
    with transaction.atomic():
        allocation_apply(payment, invoice, Decimal("40.00"), applied_by="clerk", field="x")
    _statement(org, customer)
    services.note_create(
        organization=org, customer_id=customer.pk, kind="call", body="Rang the AP desk"
    )


def test_timeline_merges_every_source_newest_first(api, org, customer):
    _timeline(org, customer)

    response = api.get(_url(customer))

    assert response.status_code == 200, response.json()
    body = response.json()
    types = [item["type"] for item in body["data"]]
    assert set(types) == {
        "reminder",
        "promise_created",
        "promise_cancelled",
        "dispute_opened",
        "dispute_resolved",
        "payment",
        "statement_sent",
        "call",
    }
    assert types[0] == "call"
    assert types[1] == "statement_sent"
    stamps = [item["at"] for item in body["data"]]
    assert stamps == sorted(stamps, reverse=True)
    assert body["pagination"]["total"] == 8
    payment = next(item for item in body["data"] if item["type"] == "payment")
    assert "40.00" in payment["summary"] and payment["ids"]["payment_id"]
    promise = next(item for item in body["data"] if item["type"] == "promise_cancelled")
    assert promise["ids"]["promise_id"]


def test_pages_past_the_window_are_a_400_naming_page(api, org, customer, monkeypatch):
    _timeline(org, customer)
    monkeypatch.setattr("dunning.selectors.ACTIVITY_MAX_WINDOW", 4)
    assert api.get(_url(customer), {"per_page": 2, "page": 2}).status_code == 200
    response = api.get(_url(customer), {"per_page": 2, "page": 3})
    assert response.status_code == 400
    assert "page" in response.json()["error"]["fields"]


def test_pages_are_slices_of_the_whole(api, org, customer):
    _timeline(org, customer)
    whole = [item["at"] for item in api.get(_url(customer), {"per_page": 100}).json()["data"]]
    paged = []
    for page in (1, 2, 3):
        body = api.get(_url(customer), {"per_page": 3, "page": page}).json()
        assert body["pagination"]["total_pages"] == 3
        paged += [item["at"] for item in body["data"]]
    assert paged == whole
    assert api.get(_url(customer), {"per_page": 3, "page": 9}).json()["data"] == []
    too_deep = api.get(_url(customer), {"per_page": 1, "page": 6000})
    assert too_deep.json()["data"] == []  # past the end: empty, whatever the depth


def test_add_a_note_and_a_call(api, org, customer):
    contact = customer.contacts.get(is_primary=True)

    response = api.post(
        _url(customer, "notes"),
        {"kind": "call", "body": "Promised to look", "contact_id": str(contact.pk)},
        format="json",
    )

    assert response.status_code == 201, response.json()
    data = response.json()["data"]
    assert data["kind"] == "call"
    assert data["contact_id"] == str(contact.pk)
    assert data["created_by"].startswith("api_key:")
    note = CustomerNote.objects.get(pk=data["id"])
    assert note.organization_id == org.pk and note.customer_id == customer.pk
    response = api.post(_url(customer, "notes"), {"kind": "note", "body": "x"}, format="json")
    assert response.status_code == 201
    first = api.get(_url(customer)).json()["data"][0]
    assert first["type"] == "note" and first["ids"]["note_id"] == response.json()["data"]["id"]


def test_note_validation_names_the_field(api, org, customer):
    stranger = ContactFactory(customer=customer_with_contacts(org))
    for change, field in [
        ({"kind": "email"}, "kind"),
        ({"body": ""}, "body"),
        ({"body": "   "}, "body"),
        ({"contact_id": str(stranger.pk)}, "contact_id"),
        ({"contact_id": str(uuid.uuid4())}, "contact_id"),
        ({"contact_id": "x"}, "contact_id"),
    ]:
        body = {"kind": "note", "body": "Hello", **change}
        response = api.post(_url(customer, "notes"), body, format="json")
        assert response.status_code == 400, (change, response.json())
        assert field in response.json()["error"]["fields"], (change, response.json())
    assert not CustomerNote.objects.exists()


def test_another_organizations_customer_is_a_404(api, other_org):
    foreign = customer_with_contacts(other_org)
    assert api.get(_url(foreign)).status_code == 404
    response = api.post(_url(foreign, "notes"), {"kind": "note", "body": "x"}, format="json")
    assert response.status_code == 404
    assert api.get("/api/v1/customers/not-a-uuid/activity").status_code == 404
    assert not CustomerNote.objects.exists()


def _count_queries(api, customer):
    with CaptureQueriesContext(connection) as queries:
        response = api.get(_url(customer), {"per_page": 100})
    assert response.status_code == 200
    return len(queries), len(response.json()["data"])


def test_query_count_does_not_grow(api, org, customer):
    _timeline(org, customer)
    few, items = _count_queries(api, customer)
    assert items == 8
    for _ in range(3):
        _timeline(org, customer)
    many, items = _count_queries(api, customer)
    assert items == 32
    assert few == many == ACTIVITY_QUERIES


def test_kept_and_broken_promises_show(api, org, customer):
    invoice = _invoice(org, customer)
    for status in (Promise.Status.KEPT, Promise.Status.BROKEN):
        Promise.objects.create(
            organization=org,
            customer=customer,
            amount=Decimal("5.00"),
            promised_date=services.organization_today(org),
            amount_due_at_promise=invoice.amount_due,
            status=status,
            resolved_at=timezone.now(),
        )
    types = {item["type"] for item in api.get(_url(customer)).json()["data"]}
    assert {"promise_kept", "promise_broken"} <= types


def test_statements_sent_show_and_others_do_not(api, org, customer):
    sent = _statement(org, customer)
    _statement(org, customer, send=False)  # still queued: not sent (yet)
    email_cancel(email=_statement(org, customer, send=False))  # never sent
    _statement(org, customer_with_contacts(org))  # another customer's

    body = api.get(_url(customer)).json()

    assert body["pagination"]["total"] == 1
    (item,) = body["data"]
    assert item["type"] == "statement_sent"
    assert item["ids"] == {"email_id": str(sent.pk)}
    reference = sent.reference
    assert f"for {reference['from']} to {reference['to']}" in item["summary"]
    assert "ap@" in item["summary"]


def test_another_organizations_statements_do_not_show(api, org, other_org, customer):
    _statement(other_org, customer_with_contacts(other_org))
    with transaction.atomic():  # another organization's email naming our customer's id
        email = email_queue(
            organization_id=other_org.pk,
            to=["x@example.com"],
            subject="Statement",
            body_text="x",
            kind="statement",
            reference={"customer_id": str(customer.pk)},
        )
    email_send(email_id=email.pk)

    assert api.get(_url(customer)).json()["pagination"]["total"] == 0
