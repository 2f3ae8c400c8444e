"""A deduction resolved as ``credit_note`` creates a credit note document: posted against the
invoice (one line to the reason's account, in the invoice's currency at its booked rate) and
applied to it, so the customer sees the document; the ledger's invariants hold and the
deduction keeps the posting's entry and its ``credit_note`` accounting change."""

from datetime import date
from decimal import Decimal

import pytest

from credits import services
from credits.models import CreditNote, CreditNoteAllocation, Deduction
from receivables.models import ExchangeRate, Invoice, JournalLine
from reconciliation.models import AccountingChange
from tests.dunning.factories import subscriber
from tests.factories import make_invoice
from tests.ledger_invariants import check_ledger
from webhooks.models import WebhookEvent

pytestmark = pytest.mark.django_db
D = Decimal


def _open(org, invoice, amount, reason="damaged_goods"):
    return services.deduction_open(
        organization=org, invoice_id=invoice.pk, amount=D(amount), reason_code=reason
    )


def _resolve(org, deduction, note=""):
    return services.deduction_resolve(
        organization=org, deduction_id=deduction.pk, resolution="credit_note", note=note
    )


def test_a_credit_note_document_is_posted_against_the_invoice_and_applied(org, customer):
    subscriber(org)
    invoice = make_invoice(org, customer=customer, amount="100.00")
    deduction = _open(org, invoice, "30.00")

    resolved = _resolve(org, deduction, note="photos of the pallet")

    invoice.refresh_from_db()
    note = CreditNote.objects.get(organization=org)
    reason_account = deduction.reason.account
    assert (note.status, note.customer_id, note.invoice_id, note.currency) == (
        CreditNote.Status.POSTED,
        customer.pk,
        invoice.pk,
        invoice.currency,
    )
    assert (note.amount, note.amount_remaining) == (D("30.00"), D("0.00"))
    assert "photos of the pallet" in note.memo
    line = note.lines.get()
    assert (line.account_id, line.amount) == (reason_account.pk, D("30.00"))
    allocation = CreditNoteAllocation.objects.get(credit_note=note)
    assert (allocation.invoice_id, allocation.amount, allocation.unapplied_at) == (
        invoice.pk,
        D("30.00"),
        None,
    )
    assert (invoice.amount_due, invoice.status) == (D("70.00"), Invoice.Status.PARTIAL)
    # The deduction keeps the posting: Dr the reason's account / Cr receivable.
    resolved.refresh_from_db()
    assert (resolved.status, resolved.resolution, resolved.resolution_amount) == (
        Deduction.Status.RESOLVED,
        "credit_note",
        D("30.00"),
    )
    assert resolved.journal_entry_id == note.journal_entry_id
    lines = set(
        JournalLine.objects.filter(entry=note.journal_entry).values_list(
            "account_id", "debit", "credit"
        )
    )
    assert lines == {
        (reason_account.pk, D("30.00"), D("0.00")),
        (invoice.ar_account_id, D("0.00"), D("30.00")),
    }
    change = AccountingChange.objects.get(pk=resolved.accounting_change_id)
    assert (change.change_type, change.amount, change.status) == (
        "credit_note",
        D("30.00"),
        "pending",
    )
    assert change.payload["deduction_id"] == str(deduction.pk)
    assert change.payload["credit_note_number"] == note.number
    # The application records one more credit_note change, with no ledger lines.
    kinds = list(
        AccountingChange.objects.filter(organization=org, change_type="credit_note")
        .order_by("sequence")
        .values_list("payload__credit_note_action", flat=True)
    )
    assert kinds == ["posted", "applied"]
    events = set(WebhookEvent.objects.filter(organization=org).values_list("event_type", flat=True))
    assert {"credit_note.posted", "credit_note.applied", "deduction.resolved"} <= events
    check_ledger(org)


def test_the_note_takes_only_what_the_invoice_still_owes(org, customer):
    invoice = make_invoice(org, customer=customer, amount="100.00")
    deduction = _open(org, invoice, "40.00")
    Invoice.objects.filter(pk=invoice.pk).update(amount_due=D("25.00"), status="partial")
    # (the rest paid meanwhile: the ledger is not the point of this test)

    resolved = _resolve(org, deduction)

    assert resolved.resolution_amount == D("25.00")
    assert CreditNote.objects.get(organization=org).amount == D("25.00")
    invoice.refresh_from_db()
    assert (invoice.amount_due, invoice.status) == (D("0.00"), Invoice.Status.PAID)


def test_a_foreign_invoice_gets_a_note_in_its_currency_at_its_booked_rate(org, customer):
    ExchangeRate.objects.create(
        organization=org, currency="EUR", date=date(2000, 1, 1), rate=D("1.2345")
    )
    invoice = make_invoice(org, customer=customer, amount="99.99", currency="EUR")
    deduction = _open(org, invoice, "33.33", reason="pricing")

    _resolve(org, deduction)

    note = CreditNote.objects.get(organization=org)
    invoice.refresh_from_db()
    assert (note.currency, note.exchange_rate) == ("EUR", invoice.exchange_rate)
    assert invoice.amount_due == D("66.66")
    check_ledger(org)


def test_a_zero_decimal_currency_deduction_becomes_a_whole_note(org, customer):
    ExchangeRate.objects.create(
        organization=org, currency="JPY", date=date(2000, 1, 1), rate=D("0.0067")
    )
    invoice = make_invoice(org, customer=customer, amount="1000", currency="JPY")
    deduction = _open(org, invoice, "333")

    _resolve(org, deduction)

    note = CreditNote.objects.get(organization=org)
    assert (note.currency, note.amount) == ("JPY", D("333"))
    check_ledger(org)


def test_an_invoice_that_owes_nothing_is_a_conflict_and_creates_no_note(org, customer):
    from arpilot.errors import Conflict

    invoice = make_invoice(org, customer=customer, amount="100.00")
    deduction = _open(org, invoice, "10.00")
    Invoice.objects.filter(pk=invoice.pk).update(amount_due=D("0.00"), status="paid")

    with pytest.raises(Conflict):
        _resolve(org, deduction)

    assert not CreditNote.objects.filter(organization=org).exists()
    deduction.refresh_from_db()
    assert deduction.status == Deduction.Status.OPEN


def test_the_resolve_api_answers_with_the_posting_and_its_change(api, org, customer):
    invoice = make_invoice(org, customer=customer, amount="50.00")
    deduction = _open(org, invoice, "50.00")

    response = api.post(
        f"/api/v1/deductions/{deduction.pk}/resolve", {"resolution": "credit_note"}, format="json"
    )

    assert response.status_code == 200, response.content
    body = response.json()["data"]
    note = CreditNote.objects.get(organization=org)
    assert body["journal_entry_id"] == str(note.journal_entry_id)
    assert body["resolution_amount"] == 50.0
    listed = api.get("/api/v1/credit-notes").json()
    rows = listed["data"]
    assert [row["number"] for row in rows] == [note.number]
    assert rows[0]["amount_remaining"] == 0
    check_ledger(org)
