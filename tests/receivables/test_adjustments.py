"""Adjustments: an invoice's balance written off or credited, with its ledger entry and a
pending accounting change (``receivables.services.adjustments``)."""

from decimal import Decimal

import pytest

from arpilot.errors import Conflict, ValidationFailed
from payments.services.allocations import _write_off_account
from receivables import services
from receivables.models import Account, Invoice, JournalEntry, JournalLine
from reconciliation import services as reconciliation_services
from reconciliation.models import AccountingChange
from tests.factories import make_invoice
from webhooks.models import WebhookEndpoint, WebhookEvent

pytestmark = pytest.mark.django_db


@pytest.fixture
def subscribed(org):
    return WebhookEndpoint.objects.create(
        organization=org, url="https://hooks.example.com/in", events=["*"], secret="whsec_t"
    )


def _lines(entry) -> list[tuple]:
    return sorted(
        (line.account.account_number, line.debit, line.credit)
        for line in JournalLine.objects.filter(entry=entry).select_related("account")
    )


def test_a_write_off_of_the_whole_balance_pays_the_invoice(org, customer, subscribed):
    invoice = make_invoice(org, customer=customer, amount="120.00")

    adjustment = services.invoice_write_off(invoice=invoice, memo="Bad debt")

    invoice.refresh_from_db()
    assert (invoice.amount_due, invoice.status) == (Decimal("0.00"), Invoice.Status.PAID)
    assert adjustment.amount == Decimal("120.00")
    assert (adjustment.account.account_number, adjustment.account.type) == (6950, "expense")
    entry = JournalEntry.objects.get(pk=adjustment.entry.pk)
    assert (entry.invoice_id, entry.source, entry.memo) == (invoice.pk, "write_off", "Bad debt")
    ar = invoice.ar_account.account_number
    assert _lines(entry) == [(ar, 0, Decimal("120.00")), (6950, Decimal("120.00"), 0)]
    (change,) = adjustment.recorded
    assert isinstance(change, AccountingChange)
    change = AccountingChange.objects.get(pk=change.pk)
    assert (change.change_type, change.status, change.amount) == (
        "write_off",
        "pending",
        Decimal("120.00"),
    )
    assert (change.invoice_id, change.customer_id, change.payment_id) == (
        invoice.pk,
        customer.pk,
        None,
    )
    assert change.payload["journal_entry_ids"] == [str(entry.pk)]
    assert change.payload["memo"] == "Bad debt"
    assert change.payload["payment_id"] is None
    assert {line["account_number"] for line in change.payload["lines"]} == {ar, 6950}
    types = set(WebhookEvent.objects.values_list("event_type", flat=True))
    assert {"invoice.updated", "invoice.paid"} <= types


def test_a_credit_note_lowers_the_balance_against_a_contra_revenue_account(org, customer):
    invoice = make_invoice(org, customer=customer, amount="100.00")

    first = services.invoice_credit(invoice=invoice, amount=Decimal("30.00"))
    second = services.invoice_credit(invoice=invoice, amount=Decimal("20.00"))

    invoice.refresh_from_db()
    assert invoice.amount_due == Decimal("50.00")
    assert invoice.status == Invoice.Status.PARTIAL
    credits = Account.objects.for_org(org).filter(name="Sales credits / credit notes")
    assert [(a.account_number, a.type) for a in credits] == [(4900, "income")]  # created once
    assert first.account == second.account
    ar = invoice.ar_account.account_number
    assert _lines(first.entry) == [(ar, 0, Decimal("30.00")), (4900, Decimal("30.00"), 0)]
    changes = AccountingChange.objects.for_org(org).filter(change_type="credit_note")
    assert sorted(changes.values_list("amount", flat=True)) == [Decimal("20.00"), Decimal("30.00")]
    assert changes.first().payload["memo"] == f"Credit note on invoice {invoice.invoice_number}"


def test_the_write_off_account_is_the_one_payments_short_pays_use(org, customer):
    invoice = make_invoice(org, customer=customer)

    adjustment = services.invoice_write_off(invoice=invoice, amount=Decimal("1.00"))

    assert _write_off_account(org) == adjustment.account
    assert Account.objects.for_org(org).filter(account_number__gte=6950).count() == 1


def test_a_taken_number_moves_the_new_account_to_the_next_free_one(org, customer):
    services.account_create(organization=org, account_number=4900, name="Other", type="asset")
    invoice = make_invoice(org, customer=customer)

    first = services.invoice_credit(invoice=invoice, amount=Decimal("1.00"))
    second = services.invoice_credit(invoice=invoice, amount=Decimal("1.00"))

    assert (first.account.account_number, first.account.type) == (4901, "income")
    assert second.account == first.account  # found again by its name


@pytest.mark.parametrize("amount", ["0.00", "-5.00", "100.01"])
def test_an_amount_not_above_zero_or_above_the_balance_is_a_400_naming_it(org, customer, amount):
    invoice = make_invoice(org, customer=customer, amount="100.00")

    with pytest.raises(ValidationFailed) as raised:
        services.invoice_write_off(invoice=invoice, amount=Decimal(amount), field_name="amount")

    assert "amount" in raised.value.fields
    invoice.refresh_from_db()
    assert invoice.amount_due == Decimal("100.00")
    assert not AccountingChange.objects.filter(change_type="write_off").exists()


def test_nothing_owed_or_a_void_invoice_is_refused(org, customer):
    paid = make_invoice(org, customer=customer)
    services.invoice_apply_payment(invoice=paid, amount=paid.amount_due)
    with pytest.raises(ValidationFailed) as raised:
        services.invoice_credit(invoice=paid)
    assert "amount" in raised.value.fields

    void = make_invoice(org, customer=customer)
    services.invoice_void(invoice=void)
    with pytest.raises(Conflict):
        services.invoice_write_off(invoice=void, amount=Decimal("1.00"))


def test_the_changes_are_approved_and_not_rejected_alone(org, customer):
    """Rejecting would leave the balance lowered in ARPilot and not in the ledger: refused,
    with the way out; approving works as for any change."""
    invoice = make_invoice(org, customer=customer, amount="100.00")
    write_off = services.invoice_write_off(invoice=invoice, amount=Decimal("10.00")).recorded[0]
    credit = services.invoice_credit(invoice=invoice, amount=Decimal("5.00")).recorded[0]

    rejected = reconciliation_services.changes_reject(
        organization=org, change_ids=[write_off.pk, credit.pk], reason="No"
    )

    assert rejected.updated == []
    reasons = {skip["id"]: skip["reason"] for skip in rejected.as_dict()["skipped"]}
    assert "write-off already lowered" in reasons[str(write_off.pk)]
    assert "credit note already lowered" in reasons[str(credit.pk)]
    invoice.refresh_from_db()
    assert invoice.amount_due == Decimal("85.00")
    approved = reconciliation_services.changes_approve(
        organization=org, change_ids=[write_off.pk, credit.pk]
    )
    assert sorted(approved.updated) == sorted([write_off.pk, credit.pk])
    statuses = AccountingChange.objects.filter(pk__in=[write_off.pk, credit.pk])
    assert set(statuses.values_list("status", flat=True)) == {"approved"}


def test_the_changes_render_in_the_api(api, org, customer):
    invoice = make_invoice(org, customer=customer, amount="100.00")
    change = services.invoice_credit(invoice=invoice, amount=Decimal("12.50")).recorded[0]

    response = api.get(f"/api/v1/reconciliation/changes/{change.pk}")

    assert response.status_code == 200, response.json()
    data = response.json()["data"]
    assert (data["change_type"], data["amount"], data["payment_id"]) == ("credit_note", 12.5, None)
    assert sum(line["debit"] for line in data["payload"]["lines"]) == 12.5
