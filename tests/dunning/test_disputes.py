import uuid

import pytest
from django.db import IntegrityError, transaction

from dunning.models import Dispute, DisputeReason
from tests.dunning.factories import TODAY, overdue_invoice, pay, subscriber
from webhooks.models import WebhookEvent

pytestmark = pytest.mark.django_db


def _url(invoice, resolve=False):
    return f"/api/v1/invoices/{invoice.pk}/dispute" + ("/resolve" if resolve else "")


def test_open_and_resolve_a_dispute(api, org, customer):
    subscriber(org)
    invoice = overdue_invoice(org, customer, days_overdue=4)

    opened = api.post(
        _url(invoice), {"reason_code": "pricing", "note": "Wrong rate"}, format="json"
    )
    resolved = api.post(
        _url(invoice, True), {"resolution": "credit_note", "note": "CN-1"}, format="json"
    )

    assert opened.status_code == 201, opened.json()
    assert opened.json()["data"]["status"] == "open"
    assert opened.json()["data"]["reason_code"] == "pricing"
    assert resolved.status_code == 200
    data = resolved.json()["data"]
    assert (data["status"], data["resolution"], data["resolution_note"]) == (
        "resolved",
        "credit_note",
        "CN-1",
    )
    events = WebhookEvent.objects.filter(event_type__startswith="dispute.")
    types = list(events.order_by("created_at").values_list("event_type", flat=True))
    assert types == ["dispute.opened", "dispute.resolved"]


def test_a_disputed_invoice_is_out_of_dunning_until_resolved(api, org, customer):
    from dunning import services

    invoice = overdue_invoice(org, customer, days_overdue=4)
    api.post(_url(invoice), {"reason_code": "not_received"}, format="json")
    assert services.dunning_plan(organization=org, today=TODAY) == []

    api.post(_url(invoice, True), {"resolution": "withdrawn"}, format="json")

    assert len(services.dunning_plan(organization=org, today=TODAY)) == 1


def test_one_open_dispute_per_invoice(api, org, customer):
    invoice = overdue_invoice(org, customer, days_overdue=4)
    api.post(_url(invoice), {"reason_code": "pricing"}, format="json")

    second = api.post(_url(invoice), {"reason_code": "other"}, format="json")

    assert second.status_code == 409
    reason = DisputeReason.objects.for_org(org).get(code="other")
    with pytest.raises(IntegrityError), transaction.atomic():
        Dispute.objects.create(organization=org, invoice=invoice, reason=reason)


def test_a_resolved_dispute_allows_a_new_one(api, org, customer):
    invoice = overdue_invoice(org, customer, days_overdue=4)
    api.post(_url(invoice), {"reason_code": "pricing"}, format="json")
    api.post(_url(invoice, True), {"resolution": "write_off"}, format="json")

    again = api.post(_url(invoice), {"reason_code": "other"}, format="json")

    assert again.status_code == 201
    assert Dispute.objects.filter(invoice=invoice).count() == 2


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "reason_code"),
        ({"reason_code": "because"}, "reason_code"),
        ({"reason_code": "pricing", "note": "x" * 5001}, "note"),
    ],
)
def test_open_validation_names_the_field(api, org, customer, body, field):
    invoice = overdue_invoice(org, customer, days_overdue=4)

    response = api.post(_url(invoice), body, format="json")

    assert response.status_code == 400
    assert field in response.json()["error"]["fields"]


@pytest.mark.parametrize(
    ("body", "field"), [({}, "resolution"), ({"resolution": "x"}, "resolution")]
)
def test_resolve_validation_names_the_field(api, org, customer, body, field):
    invoice = overdue_invoice(org, customer, days_overdue=4)
    api.post(_url(invoice), {"reason_code": "pricing"}, format="json")

    response = api.post(_url(invoice, True), body, format="json")

    assert response.status_code == 400
    assert field in response.json()["error"]["fields"]


def test_resolving_without_an_open_dispute_is_a_409(api, org, customer):
    invoice = overdue_invoice(org, customer, days_overdue=4)

    response = api.post(_url(invoice, True), {"resolution": "withdrawn"}, format="json")

    assert response.status_code == 409


def test_a_paid_invoice_is_not_disputed(api, org, customer):
    invoice = pay(overdue_invoice(org, customer, days_overdue=4))

    assert api.post(_url(invoice), {"reason_code": "pricing"}, format="json").status_code == 409


def test_other_organizations_invoices_are_404(api, other_api, org, customer):
    invoice = overdue_invoice(org, customer, days_overdue=4)

    assert (
        other_api.post(_url(invoice), {"reason_code": "pricing"}, format="json").status_code == 404
    )
    api.post(_url(invoice), {"reason_code": "pricing"}, format="json")
    assert (
        other_api.post(_url(invoice, True), {"resolution": "withdrawn"}, format="json").status_code
        == 404
    )
    assert (
        api.post(
            f"/api/v1/invoices/{uuid.uuid4()}/dispute", {"reason_code": "pricing"}, format="json"
        ).status_code
        == 404
    )
    assert (
        api.post(
            "/api/v1/invoices/nope/dispute", {"reason_code": "pricing"}, format="json"
        ).status_code
        == 404
    )
