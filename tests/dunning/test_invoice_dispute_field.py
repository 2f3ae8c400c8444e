"""The invoice shows ``dispute`` (collections, through ``arpilot.hooks.InvoicesDescribed``):
null, or the open dispute as {id, reason_code, reason, note, opened_at}."""

import pytest

from dunning.models import Dispute
from tests.dunning.factories import overdue_invoice, pay
from tests.factories import CustomerFactory
from tests.receivables.factories import invoice_payload

pytestmark = pytest.mark.django_db


def _open(api, invoice, reason_code="pricing", note="Wrong rate"):
    response = api.post(
        f"/api/v1/invoices/{invoice.pk}/dispute",
        {"reason_code": reason_code, "note": note},
        format="json",
    )
    assert response.status_code == 201, response.json()
    return response.json()["data"]


def _by_id(response) -> dict:
    return {item["id"]: item for item in response.json()["data"]}


def test_an_open_dispute_shows_on_the_invoice(api, org, customer):
    invoice = overdue_invoice(org, customer, days_overdue=4)
    opened = _open(api, invoice)

    detail = api.get(f"/api/v1/invoices/{invoice.pk}").json()["data"]
    listed = _by_id(api.get("/api/v1/invoices"))[str(invoice.pk)]

    expected = {
        "id": opened["id"],
        "reason_code": "pricing",
        "reason": opened["reason"],
        "note": "Wrong rate",
        "opened_at": opened["created_at"],
    }
    assert detail["dispute"] == expected
    assert listed["dispute"] == expected
    assert opened["reason"]  # the reason's label


def test_no_dispute_is_null_and_a_resolved_one_is_gone(api, org, customer):
    quiet = overdue_invoice(org, customer, days_overdue=2)
    disputed = overdue_invoice(org, customer, days_overdue=3)
    _open(api, disputed)
    resolved = api.post(
        f"/api/v1/invoices/{disputed.pk}/dispute/resolve",
        {"resolution": "withdrawn"},
        format="json",
    )
    assert resolved.status_code == 200

    listed = _by_id(api.get("/api/v1/invoices"))

    assert listed[str(quiet.pk)]["dispute"] is None
    assert listed[str(disputed.pk)]["dispute"] is None
    assert api.get(f"/api/v1/invoices/{quiet.pk}").json()["data"]["dispute"] is None


def test_writes_answer_with_the_dispute(api, org, customer):
    invoice = overdue_invoice(org, customer, days_overdue=4)
    opened = _open(api, invoice, reason_code="damaged_goods", note="")

    updated = api.patch(f"/api/v1/invoices/{invoice.pk}", {"notes": "called"}, format="json")
    created = api.post("/api/v1/invoices", invoice_payload(customer), format="json")

    assert updated.status_code == 200, updated.json()
    assert updated.json()["data"]["dispute"]["id"] == opened["id"]
    assert updated.json()["data"]["dispute"]["note"] == ""
    assert created.status_code == 201, created.json()
    assert created.json()["data"]["dispute"] is None


def test_the_list_reads_the_disputes_once_for_the_page(api, org, django_assert_num_queries):
    customers = CustomerFactory.create_batch(3, organization=org)
    invoices = [overdue_invoice(org, customers[i % 3], days_overdue=5 + i) for i in range(9)]
    for invoice in invoices[:4]:
        _open(api, invoice)
    api.get("/api/v1/invoices")  # warm the key cache

    # API key + count + page + lines + offline payments + open disputes (with their reason)
    for per_page in (2, 100):
        with django_assert_num_queries(6):
            response = api.get(f"/api/v1/invoices?per_page={per_page}")
        assert len(response.json()["data"]) == min(per_page, 9)
    disputed = {str(invoice.pk) for invoice in invoices[:4]}
    assert {pk for pk, item in _by_id(response).items() if item["dispute"] is not None} == disputed


def test_another_organizations_dispute_never_shows(api, other_api, org, other_org, customer):
    invoice = overdue_invoice(org, customer, days_overdue=4)
    _open(api, invoice)

    assert other_api.get(f"/api/v1/invoices/{invoice.pk}").status_code == 404
    assert other_api.get("/api/v1/invoices").json()["data"] == []
    assert Dispute.objects.filter(organization=other_org).count() == 0


def test_a_paid_invoice_without_dispute_shows_null(api, org, customer):
    invoice = overdue_invoice(org, customer, days_overdue=4)
    pay(invoice)

    assert api.get(f"/api/v1/invoices/{invoice.pk}").json()["data"]["dispute"] is None


def test_the_aplos_face_does_not_show_it(api, org, customer):
    invoice = overdue_invoice(org, customer, days_overdue=4)
    _open(api, invoice)

    listed = api.get("/hermes/api/v1/receivables").json()
    got = api.get(f"/hermes/api/v1/receivables/{invoice.aplos_id}").json()

    assert "dispute" not in str(listed)
    assert "dispute" not in str(got)


def test_the_schema_describes_a_nullable_dispute(api):
    schema = api.get("/api/schema/?format=json").json()
    dispute = schema["components"]["schemas"]["Invoice"]["properties"]["dispute"]
    # inline, so that generated clients read null (a nullable allOf reference they do not)
    assert (dispute["type"], dispute["nullable"]) == ("object", True)
    assert set(dispute["properties"]) == {"id", "reason_code", "reason", "note", "opened_at"}
