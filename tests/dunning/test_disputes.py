import uuid
from decimal import Decimal

import pytest
from django.db import IntegrityError, transaction

from dunning.models import Dispute, DisputeReason
from receivables.models import Invoice, JournalLine
from reconciliation import services as reconciliation_services
from reconciliation.models import AccountingChange
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
    api.post(_url(invoice, True), {"resolution": "write_off", "amount": "10.00"}, format="json")

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


# --- resolutions that move money ---------------------------------------------------------------


def test_a_write_off_takes_the_amount_off_the_balance_for_approval(api, org, customer):
    subscriber(org)
    invoice = overdue_invoice(org, customer, days_overdue=4, amount="100.00")
    api.post(_url(invoice), {"reason_code": "damaged_goods"}, format="json")

    response = api.post(
        _url(invoice, True),
        {"resolution": "write_off", "amount": "30.00", "note": "Two crates broken"},
        format="json",
    )

    assert response.status_code == 200, response.json()
    data = response.json()["data"]
    assert (data["resolution"], data["resolution_amount"]) == ("write_off", 30.0)
    invoice.refresh_from_db()
    assert (invoice.amount_due, invoice.status) == (Decimal("70.00"), Invoice.Status.OVERDUE)
    change = AccountingChange.objects.get(pk=data["accounting_change_id"])
    assert (change.change_type, change.status, change.amount) == (
        "write_off",
        "pending",
        Decimal("30.00"),
    )
    assert change.payload["journal_entry_ids"] == [data["journal_entry_id"]]
    assert change.payload["dispute_id"] == data["id"]
    assert "Two crates broken" in change.payload["memo"]
    lines = JournalLine.objects.filter(entry_id=data["journal_entry_id"]).select_related("account")
    assert sorted((line.account.account_number, line.debit) for line in lines if line.debit) == [
        (6950, Decimal("30.00"))
    ]
    assert sum(line.debit - line.credit for line in lines) == 0
    dispute = Dispute.objects.get(pk=data["id"])
    assert (dispute.resolution_amount, dispute.accounting_change_id) == (
        Decimal("30.00"),
        change.pk,
    )
    event = WebhookEvent.objects.get(event_type="dispute.resolved")
    assert event.payload["data"]["accounting_change_id"] == str(change.pk)
    assert event.payload["data"]["journal_entry_id"] == data["journal_entry_id"]
    assert Decimal(str(event.payload["data"]["resolution_amount"])) == Decimal("30.00")


def test_a_credit_note_defaults_to_all_the_invoice_owes_and_pays_it(api, org, customer):
    subscriber(org)
    invoice = overdue_invoice(org, customer, days_overdue=4, amount="100.00")
    pay(invoice, "40.00")
    api.post(_url(invoice), {"reason_code": "pricing"}, format="json")

    response = api.post(_url(invoice, True), {"resolution": "credit_note"}, format="json")

    assert response.status_code == 200, response.json()
    data = response.json()["data"]
    assert data["resolution_amount"] == 60.0
    invoice.refresh_from_db()
    assert (invoice.amount_due, invoice.status) == (Decimal("0.00"), Invoice.Status.PAID)
    change = AccountingChange.objects.get(pk=data["accounting_change_id"])
    assert (change.change_type, change.amount) == ("credit_note", Decimal("60.00"))
    assert {line["account_number"] for line in change.payload["lines"]} >= {4900}
    assert WebhookEvent.objects.filter(event_type="invoice.paid").count() == 1
    invoice_json = api.get(f"/api/v1/invoices/{invoice.pk}").json()["data"]
    assert invoice_json["status"] == "paid"


def test_a_withdrawn_dispute_moves_nothing(api, org, customer):
    invoice = overdue_invoice(org, customer, days_overdue=4)
    api.post(_url(invoice), {"reason_code": "pricing"}, format="json")

    data = api.post(_url(invoice, True), {"resolution": "withdrawn"}, format="json").json()["data"]

    assert (data["resolution_amount"], data["journal_entry_id"]) == (None, None)
    assert data["accounting_change_id"] is None
    invoice.refresh_from_db()
    assert invoice.amount_due == Decimal("100.00")


@pytest.mark.parametrize(
    "body",
    [
        {"resolution": "write_off", "amount": "100.01"},
        {"resolution": "credit_note", "amount": "0"},
        {"resolution": "write_off", "amount": "-1"},
        {"resolution": "write_off", "amount": "abc"},
        {"resolution": "withdrawn", "amount": "5.00"},
    ],
)
def test_a_bad_amount_is_a_400_naming_it_and_moves_nothing(api, org, customer, body):
    invoice = overdue_invoice(org, customer, days_overdue=4, amount="100.00")
    api.post(_url(invoice), {"reason_code": "pricing"}, format="json")

    response = api.post(_url(invoice, True), body, format="json")

    assert response.status_code == 400, response.json()
    assert "amount" in response.json()["error"]["fields"]
    invoice.refresh_from_db()
    assert invoice.amount_due == Decimal("100.00")
    assert Dispute.objects.get(invoice=invoice).status == "open"
    assert not AccountingChange.objects.filter(
        change_type__in=["write_off", "credit_note"]
    ).exists()


def test_nothing_left_to_write_off_is_a_400_naming_amount(api, org, customer):
    invoice = overdue_invoice(org, customer, days_overdue=4)
    api.post(_url(invoice), {"reason_code": "pricing"}, format="json")
    pay(invoice)  # paid in full while disputed

    response = api.post(_url(invoice, True), {"resolution": "write_off"}, format="json")

    assert response.status_code == 400
    assert "amount" in response.json()["error"]["fields"]
    ok = api.post(_url(invoice, True), {"resolution": "withdrawn"}, format="json")
    assert ok.status_code == 200


def test_rejecting_the_dispute_write_off_is_refused_not_a_crash(api, org, customer):
    """Rejecting does not reverse a dispute's write-off (not supported): the change is
    skipped with the reason, the money stays written off, and approval still works."""
    invoice = overdue_invoice(org, customer, days_overdue=4)
    api.post(_url(invoice), {"reason_code": "pricing"}, format="json")
    data = api.post(_url(invoice, True), {"resolution": "write_off"}, format="json").json()["data"]

    response = api.post(
        "/api/v1/reconciliation/reject",
        {"change_ids": [data["accounting_change_id"]], "reason": "Not bad debt"},
        format="json",
    )

    assert response.status_code == 200, response.json()
    (skipped,) = response.json()["data"]["skipped"]
    assert "write-off already lowered" in skipped["reason"]
    assert AccountingChange.objects.get(pk=data["accounting_change_id"]).status == "pending"
    approved = reconciliation_services.changes_approve(
        organization=org, change_ids=[data["accounting_change_id"]]
    )
    assert len(approved) == 1
