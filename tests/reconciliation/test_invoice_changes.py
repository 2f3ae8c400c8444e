"""Invoice money events become accounting changes in the same transaction, backed by the
ledger entries receivables posted."""

from decimal import Decimal

import pytest

from receivables import services as receivables
from reconciliation.models import AccountingChange
from tests.receivables.factories import make_invoice

pytestmark = pytest.mark.django_db


def _changes(invoice):
    return list(AccountingChange.objects.filter(invoice=invoice).order_by("sequence"))


def _debits_credits(change):
    return sorted(
        (line["account_number"], line["debit"], line["credit"]) for line in change.payload["lines"]
    )


def test_issuing_an_invoice_records_a_pending_change_with_its_ledger_lines(org):
    invoice = make_invoice(org, amount="250.00")

    (change,) = _changes(invoice)
    assert change.change_type == "invoice_created"
    assert change.status == "pending"
    assert change.amount == Decimal("250.00")
    assert change.customer_id == invoice.customer_id
    assert _debits_credits(change) == [(1100, "250.00", "0.00"), (4000, "0.00", "250.00")]


def test_a_draft_records_nothing_until_it_is_issued(org):
    invoice = make_invoice(org, status="draft")
    assert _changes(invoice) == []

    receivables.invoice_update(invoice=invoice, changes={"status": "pending"})

    assert [c.change_type for c in _changes(invoice)] == ["invoice_created"]


def test_offline_payment_records_its_own_change(org):
    invoice = make_invoice(org, amount="100.00")

    receivables.invoice_record_offline_payment(invoice=invoice, amount=Decimal("30.00"))

    _created, offline = _changes(invoice)
    assert offline.change_type == "offline_payment"
    assert offline.amount == Decimal("30.00")
    assert _debits_credits(offline) == [(1000, "30.00", "0.00"), (1100, "0.00", "30.00")]


def test_changing_the_amount_records_reversal_and_reissue(org):
    invoice = make_invoice(org, amount="100.00")

    receivables.invoice_update(invoice=invoice, changes={"amount": Decimal("120.00")})

    changed = _changes(invoice)[-1]
    assert changed.change_type == "invoice_changed"
    assert len(changed.payload["journal_entry_ids"]) == 2
    assert _debits_credits(changed) == [
        (1100, "0.00", "100.00"),
        (1100, "120.00", "0.00"),
        (4000, "0.00", "120.00"),
        (4000, "100.00", "0.00"),
    ]


def test_voiding_records_the_reversal(org):
    invoice = make_invoice(org, amount="80.00")

    receivables.invoice_void(invoice=invoice)

    voided = _changes(invoice)[-1]
    assert voided.change_type == "invoice_voided"
    assert _debits_credits(voided) == [(1100, "0.00", "80.00"), (4000, "80.00", "0.00")]
